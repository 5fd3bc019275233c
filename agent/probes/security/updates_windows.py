"""security.updates on Windows: pending updates from the Windows Update Agent (offline search over
the results of the PC's own last scan, so an hourly probe never makes 10,000 PCs hit WSUS), the
newest Get-HotFix date, and whether a reboot is pending."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.software.hotfixes_windows import HOTFIX_PIPELINE, HOTFIXES, hotfixes
from agent.probes.windows import first_instance, instances, powershell, to_bool
from agent.schema.report import Updates

PENDING = "WindowsUpdate-pending.json"
REBOOT = "RebootRequired.json"

# WSUS/Microsoft Update classification "Security Updates" (the category title is localised, its id is not).
SECURITY_UPDATES_CATEGORY = "0fa1201d-4330-4fa8-8ae9-b877473b6441"

# The title is only for people reading the raw material; the count needs severity and classification.
PENDING_PIPELINE = (
    "$searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher(); "
    "$searcher.Online = $false; "
    "$searcher.Search('IsInstalled=0 and IsHidden=0 and Type=''Software''').Updates | ForEach-Object { "
    "[pscustomobject]@{ Title = $_.Title; MsrcSeverity = $_.MsrcSeverity; "
    "CategoryIDs = @($_.Categories | ForEach-Object { $_.CategoryID }) } }"
)
_WINDOWS_UPDATE_KEY = r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion"
REBOOT_PIPELINE = (
    "[pscustomobject]@{ SystemInfo = (New-Object -ComObject Microsoft.Update.SystemInfo).RebootRequired; "
    rf"WindowsUpdate = Test-Path '{_WINDOWS_UPDATE_KEY}\WindowsUpdate\Auto Update\RebootRequired'; "
    rf"ComponentBasedServicing = Test-Path '{_WINDOWS_UPDATE_KEY}\Component Based Servicing\RebootPending' }}"
)


def collect() -> dict[str, str | bytes]:
    return dict(
        powershell(
            {PENDING: PENDING_PIPELINE, HOTFIXES: HOTFIX_PIPELINE, REBOOT: REBOOT_PIPELINE},
            timeout=300.0,
        )
    )


def is_security(update: dict[str, Any]) -> bool:
    """An MSRC severity, or the Security Updates classification (some carry no severity)."""
    categories = update.get("CategoryIDs") or []
    categories = categories if isinstance(categories, list) else [categories]
    return text(update.get("MsrcSeverity")) is not None or SECURITY_UPDATES_CATEGORY in (
        str(category).lower() for category in categories
    )


def _reboot_required(flags: dict[str, Any] | None) -> bool | None:
    values = [to_bool(value) for value in (flags or {}).values()]
    known = [value for value in values if value is not None]
    return any(known) if known else None


def parse(raw: Raw) -> dict[str, Any]:
    pending = instances(raw, PENDING)
    installed = hotfixes(raw, HOTFIXES)
    reboot = _reboot_required(first_instance(raw, REBOOT))
    if pending is None and installed is None and reboot is None:
        raise ProbeFailure("failed", "neither Windows Update nor Get-HotFix answered")
    dates = [hotfix.installed_on for hotfix in installed or [] if hotfix.installed_on]
    return {
        "updates": Updates(
            pending_count=None if pending is None else len(pending),
            pending_security_count=None if pending is None else sum(map(is_security, pending)),
            last_installed_at=datetime.fromisoformat(max(dates)).replace(tzinfo=UTC) if dates else None,
            reboot_required=reboot,
        )
    }

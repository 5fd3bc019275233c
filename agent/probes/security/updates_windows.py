"""security.updates on Windows: pending updates from the Windows Update Agent (offline search over
the results of the PC's own last scan, so an hourly probe never makes 10,000 PCs hit WSUS), the
newest Get-HotFix date, and whether a reboot is pending.

That offline search is only as good as the last real scan: the count is reported only when
Automatic Updates' last successful search (``LastSearchSuccessDate``) is at most
:data:`STALE_AFTER_DAYS` old. A stale, never-made or failed search gives ``search_state`` and no
count, never "0 pending"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.software.hotfixes_windows import HOTFIX_PIPELINE, HOTFIXES, hotfixes
from agent.probes.windows import first_instance, instances, parse_datetime, powershell, to_bool
from agent.schema.report import Updates

PENDING = "WindowsUpdate-pending.json"
REBOOT = "RebootRequired.json"
SEARCH = "AutoUpdate-Results.json"

STALE_AFTER_DAYS = 7
"""A search older than this is stale. Windows searches about daily (every 17-22 h by default), so
a week without a successful one means the scan is broken or the PC is cut off from its update
server; 7 also matches Defender's AVSignatureDue default used for the antivirus verdict."""

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
    rf"ComponentBasedServicing = Test-Path '{_WINDOWS_UPDATE_KEY}\Component Based Servicing\RebootPending'; "
    # Files that Windows replaces at the next boot (updates and installers put them there).
    "PendingFileRenameOperations = $null -ne (Get-ItemProperty -ErrorAction SilentlyContinue "
    r"-Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -Name PendingFileRenameOperations) }"
)
# The dates are UTC (IAutomaticUpdatesResults); written as text because ConvertTo-Json would treat
# them as local time. Now is the PC's clock, the one the search dates are compared against.
_UTC_TEXT = ".ToString('yyyy-MM-dd HH:mm:ss', [cultureinfo]::InvariantCulture)"
SEARCH_PIPELINE = (
    "$results = (New-Object -ComObject Microsoft.Update.AutoUpdate).Results; "
    "[pscustomobject]@{ "
    f"LastSearchSuccessDate = $(try {{ $results.LastSearchSuccessDate{_UTC_TEXT} }} catch {{ $null }}); "
    f"LastInstallationSuccessDate = $(try {{ $results.LastInstallationSuccessDate{_UTC_TEXT} }} "
    "catch { $null }); "
    f"Now = [DateTime]::UtcNow{_UTC_TEXT} }}"
)


PIPELINES: dict[str, str] = {
    PENDING: PENDING_PIPELINE,
    HOTFIXES: HOTFIX_PIPELINE,
    REBOOT: REBOOT_PIPELINE,
    SEARCH: SEARCH_PIPELINE,
}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""


def collect() -> dict[str, str | bytes]:
    return dict(
        powershell(
            PIPELINES,
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


SearchState = Literal["current", "stale", "failed", "never"]


def search_state(searched: bool, last_search: datetime | None, now: datetime | None) -> SearchState | None:
    """How far the pending count can be trusted; None when Automatic Updates did not answer."""
    if not searched:
        return "failed"
    if now is None:
        return None
    if last_search is None:
        return "never"
    return "stale" if now - last_search > timedelta(days=STALE_AFTER_DAYS) else "current"


def parse(raw: Raw) -> dict[str, Any]:
    pending = instances(raw, PENDING)
    installed = hotfixes(raw, HOTFIXES)
    reboot = _reboot_required(first_instance(raw, REBOOT))
    search = first_instance(raw, SEARCH) or {}
    if pending is None and installed is None and reboot is None and not search:
        raise ProbeFailure("failed", "neither Windows Update nor Get-HotFix answered")
    last_search = parse_datetime(search.get("LastSearchSuccessDate"))
    state = search_state(pending is not None, last_search, parse_datetime(search.get("Now")))
    dates = [
        datetime.fromisoformat(hotfix.installed_on).replace(tzinfo=UTC)
        for hotfix in installed or []
        if hotfix.installed_on
    ]
    if (installation := parse_datetime(search.get("LastInstallationSuccessDate"))) is not None:
        dates.append(installation)
    counted = pending if state == "current" else None
    return {
        "updates": Updates(
            pending_count=None if counted is None else len(counted),
            pending_security_count=None if counted is None else sum(map(is_security, counted)),
            last_installed_at=max(dates) if dates else None,
            reboot_required=reboot,
            search_state=state,
            last_search_at=last_search,
        )
    }

"""software.hotfixes on Windows: Get-HotFix (Win32_QuickFixEngineering). Its InstalledOn is turned
into ``yyyy-MM-dd`` in PowerShell, because a DateTime serialised by ConvertTo-Json is shifted to
UTC and can land on the previous day east of Greenwich."""

from __future__ import annotations

import re
from typing import Any

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.windows import instances, parse_date, powershell
from agent.schema.report import MAX_PACKAGES, Hotfix

HOTFIXES = "Get-HotFix.json"
HOTFIX_PIPELINE = (
    "Get-HotFix | Select-Object HotFixID, Description, ServicePackInEffect, @{n='InstalledOn'; "
    "e={try { $_.InstalledOn.ToString('yyyy-MM-dd', [cultureinfo]::InvariantCulture) } catch { $null }}}"
)
_KB = re.compile(r"KB\d+", re.IGNORECASE)


PIPELINES: dict[str, str] = {HOTFIXES: HOTFIX_PIPELINE}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""
REQUIRED_PIPELINES = (HOTFIXES,)


def collect() -> dict[str, str | bytes]:
    return dict(powershell(PIPELINES, required=REQUIRED_PIPELINES))


def _hotfix_id(row: dict[str, Any]) -> str | None:
    """The KB number; XP lists some fixes as HotFixID "File 1" with the KB in ServicePackInEffect."""
    hotfix_id = text(row.get("HotFixID"), max_length=64)
    if hotfix_id and not re.fullmatch(r"File \d+", hotfix_id):
        return hotfix_id
    fallback = text(row.get("ServicePackInEffect"), max_length=64)
    return fallback if fallback and _KB.fullmatch(fallback) else None


def hotfixes(raw: Raw, key: str = HOTFIXES) -> list[Hotfix] | None:
    """Every installed fix once, ordered by id; None when Get-HotFix was not collected."""
    rows = instances(raw, key)
    if rows is None:
        return None
    found: dict[str, Hotfix] = {}
    for row in rows:
        hotfix_id = _hotfix_id(row)
        if hotfix_id is None:
            continue
        hotfix = Hotfix(
            id=hotfix_id,
            description=text(row.get("Description")),
            installed_on=parse_date(row.get("InstalledOn")),
        )
        if hotfix_id not in found or (hotfix.installed_on and not found[hotfix_id].installed_on):
            found[hotfix_id] = hotfix
    return [found[hotfix_id] for hotfix_id in sorted(found)][:MAX_PACKAGES]


def parse(raw: Raw) -> dict[str, Any]:
    found = hotfixes(raw)
    if found is None:
        raise ProbeFailure("failed", "Get-HotFix was not collected")
    return {"hotfixes": found}

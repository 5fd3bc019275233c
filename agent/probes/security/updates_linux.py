"""security.updates on Debian-family Linux: what apt would upgrade (``apt-get -s dist-upgrade``, a
simulation that also counts upgrades needing new packages, such as a new kernel ABI, which plain
``upgrade`` keeps back), how many of them come from a ``*-security`` suite, the last install or
upgrade in dpkg's log (local time, so the PC's zone is recorded too) and ``/var/run/reboot-required``
(written by update-notifier and unattended-upgrades).

The simulation works on the package lists of the last ``apt-get update``: when that is more than
``STALE_AFTER_DAYS`` old (the newest of the periodic success stamp and the lists' own directory
times; ``apt-get update`` that finds nothing new touches neither file nor directory, so a PC without
the daily timer may read stale although it is not), the state is ``stale`` and no count is given.

Elsewhere the counts stay None: the agent knows no other package manager's pending updates.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any

from agent.probes.base import Raw, epoch_utc, load_json
from agent.probes.linux import (
    find_tool,
    first_line,
    local_time,
    local_zone,
    read_files,
    run_tool,
    to_json,
    under,
)
from agent.schema.report import Updates

APT = "apt-get-dist-upgrade"
DPKG_LOGS = ("dpkg.log", "dpkg.log.1")  # newest first
TIMEZONE = "timezone"
REBOOT_REQUIRED = "reboot-required"
STALE_AFTER_DAYS = 7
"""Lists older than this are stale: apt's daily timer refreshes them about every 12 h, so a week
means the timer is off or the mirror unreachable (the same limit as Windows Update searches)."""
LIST_TIMES = "apt-list-times.json"
NOW = "now"
# Where the time of the last package list download shows: the stamp apt.systemd.daily writes on a
# successful update, the lists directory and its partial/ (renamed into, emptied by each update).
LIST_EVIDENCE = (
    "var/lib/apt/periodic/update-success-stamp",
    "var/lib/apt/lists",
    "var/lib/apt/lists/partial",
)
_INST = re.compile(r"^Inst \S+ (?:\[[^\]]*\] )?\((?P<origin>.*)\)", re.MULTILINE)
_DPKG_ACTION = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?:install|upgrade) ", re.MULTILINE)


def collect(root: str = "/") -> dict[str, str | bytes]:
    files = {name: under(root, f"var/log/{name}") for name in DPKG_LOGS}
    files[REBOOT_REQUIRED] = under(root, "var/run/reboot-required")
    raw = read_files(files)
    raw[TIMEZONE] = local_zone(root)
    times = {}
    for path in LIST_EVIDENCE:
        try:
            times[path] = under(root, path).stat().st_mtime
        except OSError:
            continue
    raw[LIST_TIMES] = to_json(times)
    raw[NOW] = str(time.time())
    if find_tool("apt-get"):
        # NoLocking: a simulation needs no lock, and apt may be busy with unattended-upgrades.
        raw[APT] = run_tool("apt-get", "-s", "-o", "Debug::NoLocking=1", "dist-upgrade", timeout=120)
    return raw


def _last_install(raw: Raw) -> datetime | None:
    zone = first_line(raw.get(TIMEZONE))
    for name in DPKG_LOGS:
        stamps = _DPKG_ACTION.findall(str(raw.get(name, "")))
        if stamps:
            return local_time(stamps[-1], zone)
    return None


def _last_list_update(raw: Raw) -> datetime | None:
    times = load_json(raw, LIST_TIMES) or {}
    found = [moment for path in LIST_EVIDENCE if (moment := epoch_utc(times.get(path))) is not None]
    return max(found) if found else None


def parse(raw: Raw) -> dict[str, Any]:
    pending = security = state = None
    last_search = _last_list_update(raw)
    now = epoch_utc(float(first_line(raw.get(NOW)) or 0))
    if APT in raw and now is not None:
        if last_search is None:
            state = "never"
        else:
            state = "stale" if now - last_search > timedelta(days=STALE_AFTER_DAYS) else "current"
    if APT in raw and state == "current":
        origins = [match["origin"] for match in _INST.finditer(str(raw[APT]))]
        pending = len(origins)
        security = sum("security" in origin.lower() for origin in origins)
    debian_family = APT in raw or any(name in raw for name in DPKG_LOGS)
    return {
        "updates": Updates(
            pending_count=pending,
            pending_security_count=security,
            last_installed_at=_last_install(raw),
            reboot_required=True if REBOOT_REQUIRED in raw else (False if debian_family else None),
            search_state=state,
            last_search_at=last_search if APT in raw else None,
        )
    }

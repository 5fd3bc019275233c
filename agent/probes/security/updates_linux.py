"""security.updates on Debian-family Linux: what apt would upgrade (``apt-get -s dist-upgrade``, a
simulation that also counts upgrades needing new packages, such as a new kernel ABI, which plain
``upgrade`` keeps back), how many of them come from a ``*-security`` suite, the last install or
upgrade in dpkg's log (local time, so the PC's zone is recorded too) and ``/var/run/reboot-required``
(written by update-notifier and unattended-upgrades).

Elsewhere the counts stay None: the agent knows no other package manager's pending updates.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from agent.probes.base import Raw
from agent.probes.linux import find_tool, first_line, local_time, local_zone, read_files, run_tool, under
from agent.schema.report import Updates

APT = "apt-get-dist-upgrade"
DPKG_LOGS = ("dpkg.log", "dpkg.log.1")  # newest first
TIMEZONE = "timezone"
REBOOT_REQUIRED = "reboot-required"
_INST = re.compile(r"^Inst \S+ (?:\[[^\]]*\] )?\((?P<origin>.*)\)", re.MULTILINE)
_DPKG_ACTION = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?:install|upgrade) ", re.MULTILINE)


def collect(root: str = "/") -> dict[str, str | bytes]:
    files = {name: under(root, f"var/log/{name}") for name in DPKG_LOGS}
    files[REBOOT_REQUIRED] = under(root, "var/run/reboot-required")
    raw = read_files(files)
    raw[TIMEZONE] = local_zone(root)
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


def parse(raw: Raw) -> dict[str, Any]:
    pending = security = None
    if APT in raw:
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
        )
    }

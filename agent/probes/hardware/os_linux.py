"""hardware.os on Linux: the distribution from ``os-release`` (Debian's point release from
``/etc/debian_version`` as the build, ``VARIANT`` as the edition: "Workstation", "Server"), the
running kernel and the machine architecture.

Linux keeps no install date, so it is estimated from what the installer leaves behind, best first:
the Debian/Ubuntu installer's log directory, the root file system's ``lost+found`` (made by mkfs),
``/etc/machine-id`` (written on first boot). Implausible times (before 2000) are skipped.
"""

from __future__ import annotations

import os
import re
from typing import Any

from agent.probes.base import ProbeFailure, Raw, epoch_utc, load_json, read_text, text
from agent.probes.linux import first_line, key_values, read_files, to_json, under
from agent.schema.report import OperatingSystem

INSTALL_EVIDENCE = ("var/log/installer", "lost+found", "etc/machine-id")
INSTALL_TIMES = "install-times.json"


def collect(root: str = "/", proc: str = "/proc") -> dict[str, str | bytes]:
    raw = read_files(
        {
            "osrelease": under(proc, "sys/kernel/osrelease"),
            "debian_version": under(root, "etc/debian_version"),
        }
    )
    os_release = read_text(under(root, "etc/os-release")) or read_text(under(root, "usr/lib/os-release"))
    if os_release is not None:
        raw["os-release"] = os_release
    times = {}
    for path in INSTALL_EVIDENCE:
        try:
            times[path] = under(root, path).stat().st_mtime
        except OSError:
            continue
    raw[INSTALL_TIMES] = to_json(times)
    raw["machine"] = os.uname().machine
    return raw


def parse(raw: Raw) -> dict[str, Any]:
    release = key_values(str(raw.get("os-release", "")))
    name = release.get("PRETTY_NAME") or release.get("NAME")
    if not name:
        raise ProbeFailure("failed", "no os-release file")
    point_release = first_line(raw.get("debian_version"))
    times = load_json(raw, INSTALL_TIMES) or {}
    installed = (epoch_utc(times.get(path)) for path in INSTALL_EVIDENCE)
    return {
        "os": OperatingSystem(
            family="linux",
            name=text(name) or "Linux",
            version=text(release.get("VERSION_ID") or release.get("BUILD_ID")) or "unknown",
            # Only a numeric debian_version is a point release ("12.7"); Ubuntu writes "trixie/sid".
            build=point_release if point_release and re.fullmatch(r"\d+(\.\d+)+", point_release) else None,
            architecture=text(first_line(raw.get("machine"))),
            kernel=text(first_line(raw.get("osrelease"))),
            install_date=next((moment for moment in installed if moment is not None), None),
            edition=text(release.get("VARIANT")),
        )
    }

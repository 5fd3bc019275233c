"""software.packages on Linux: dpkg's own database (``/var/lib/dpkg/status``, read directly: no
``dpkg-query`` start-up, works for any user), or ``rpm -qa`` where there is no dpkg.

A dpkg entry counts when its state is ``installed`` whatever the wanted action (``hold`` keeps a
package installed); removed packages that left their configuration (``deinstall ok config-files``)
do not. Multi-arch packages appear once per architecture.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from agent.probes.base import ProbeFailure, Raw, read_text, text
from agent.probes.linux import blocks, colon_fields, find_tool, run_tool, under
from agent.schema.report import SoftwarePackage

DPKG_STATUS = "dpkg-status"
RPM = "rpm-qa"
# One tab-separated line per package; EPOCH only when set, as dpkg writes "1:2.3".
RPM_FORMAT = r"%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\t%{VENDOR}\t%{INSTALLTIME}\n"


def collect(root: str = "/") -> dict[str, str | bytes]:
    status = read_text(under(root, "var/lib/dpkg/status"))
    if status is not None:
        return {DPKG_STATUS: status}
    if find_tool("rpm"):
        return {RPM: run_tool("rpm", "-qa", "--queryformat", RPM_FORMAT, timeout=120)}
    raise ProbeFailure("unsupported", "neither dpkg nor rpm keeps a package database here")


def _publisher(maintainer: str | None) -> str | None:
    """``Matthias Klose <doko@debian.org>`` → ``Matthias Klose`` (the address is not a publisher)."""
    return text(re.sub(r"\s*<[^>]*>", "", maintainer or "")) or text(maintainer)


def _dpkg(status: str) -> list[SoftwarePackage]:
    packages = []
    for block in blocks(status):
        fields = colon_fields(block, continuation=True)
        state = fields.get("Status", "").split()
        if len(state) != 3 or state[2] != "installed" or not (name := text(fields.get("Package"))):
            continue
        packages.append(
            SoftwarePackage(
                name=name,
                source="dpkg",
                version=text(fields.get("Version")),
                publisher=_publisher(fields.get("Maintainer")),
                architecture=text(fields.get("Architecture")),
            )
        )
    return packages


def _rpm(output: str) -> list[SoftwarePackage]:
    packages = []
    for line in output.splitlines():
        parts = line.split("\t")
        # gpg-pubkey entries are imported signing keys, not software.
        if len(parts) != 5 or parts[0] == "gpg-pubkey" or not (name := text(parts[0])):
            continue
        installed = parts[4].strip()
        packages.append(
            SoftwarePackage(
                name=name,
                source="rpm",
                version=text(parts[1]),
                publisher=text(parts[3]) if parts[3] != "(none)" else None,
                install_date=datetime.fromtimestamp(int(installed), UTC).date().isoformat()
                if installed.isdigit()
                else None,
                architecture=text(parts[2]) if parts[2] != "(none)" else None,
            )
        )
    return packages


def parse(raw: Raw) -> dict[str, Any]:
    if DPKG_STATUS in raw:
        packages = _dpkg(str(raw[DPKG_STATUS]))
    elif RPM in raw:
        packages = _rpm(str(raw[RPM]))
    else:
        raise ProbeFailure("failed", "no package database was read")
    return {"software": sorted(packages, key=lambda package: (package.name, package.architecture or ""))}

"""hardware.os on Windows: Win32_OperatingSystem, plus the update build revision (UBR) from the
registry, because ``17763`` alone does not say which cumulative update a PC runs, and from the same
key the feature update (``DisplayVersion`` "22H2"; before 20H2 only ``ReleaseId`` "1909") and the
edition (``EditionID`` "Professional", not localised unlike the Caption)."""

from __future__ import annotations

from typing import Any

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.windows import (
    cim,
    first_instance,
    parse_datetime,
    powershell,
    registry_values,
    to_int,
    to_json,
)
from agent.schema.report import OperatingSystem

OPERATING_SYSTEM = "Win32_OperatingSystem.json"
CURRENT_VERSION = "CurrentVersion.json"
CURRENT_VERSION_KEY = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"


PIPELINES: dict[str, str] = {
    OPERATING_SYSTEM: cim(
        "Win32_OperatingSystem",
        "Caption",
        "Version",
        "BuildNumber",
        "OSArchitecture",
        "InstallDate",
    )
}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""
REQUIRED_PIPELINES = (OPERATING_SYSTEM,)


def collect() -> dict[str, str | bytes]:
    raw: dict[str, str | bytes] = dict(
        powershell(
            PIPELINES,
            required=REQUIRED_PIPELINES,
        )
    )
    raw[CURRENT_VERSION] = to_json(
        registry_values(
            CURRENT_VERSION_KEY, names=("CurrentBuild", "UBR", "DisplayVersion", "ReleaseId", "EditionID")
        )
    )
    return raw


def architecture(value: Any) -> str | None:
    """OSArchitecture is localised ("64-bit", "32 bits", "64-разрядная", "ARM 64-bit Processor")."""
    label = text(value)
    if label is None:
        return None
    if "arm" in label.lower():
        return "arm64"
    if "64" in label:
        return "x86_64"
    return "x86" if "32" in label else label


def parse(raw: Raw) -> dict[str, Any]:
    system = first_instance(raw, OPERATING_SYSTEM)
    name = text((system or {}).get("Caption"))
    version = text((system or {}).get("Version"))
    if system is None or name is None or version is None:
        raise ProbeFailure("failed", "Win32_OperatingSystem gave no Caption or Version")
    build = text(system.get("BuildNumber"))
    current = first_instance(raw, CURRENT_VERSION) or {}
    revision = to_int(current.get("UBR"))
    if build and revision is not None:
        build = f"{build}.{revision}"
    return {
        "os": OperatingSystem(
            family="windows",
            name=name,
            version=version,
            build=build,
            architecture=architecture(system.get("OSArchitecture")),
            install_date=parse_datetime(system.get("InstallDate")),
            display_version=text(current.get("DisplayVersion")) or text(current.get("ReleaseId")),
            edition=text(current.get("EditionID")),
        )
    }

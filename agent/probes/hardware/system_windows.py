"""hardware.system on Windows: Win32_ComputerSystem (name, domain or workgroup, maker, model) and
Win32_BIOS (vendor, version, release date, the machine's serial number), the SMBIOS system UUID
(Win32_ComputerSystemProduct.UUID: PCs imaged from one master share MachineGuid, not this) and how
the PC booted: ``$env:firmware_type`` (Windows 8 and later: "UEFI", "Legacy"), else whether
Confirm-SecureBootUEFI can run (it throws PlatformNotSupportedException on BIOS firmware)."""

from __future__ import annotations

from typing import Any

from agent.probes.base import ProbeFailure, Raw, hw_text, text
from agent.probes.hardware.identity import smbios_uuid
from agent.probes.windows import cim, first_instance, parse_date, powershell, to_bool
from agent.schema.report import SystemInfo

COMPUTER_SYSTEM = "Win32_ComputerSystem.json"
BIOS = "Win32_BIOS.json"
PRODUCT = "Win32_ComputerSystemProduct.json"
FIRMWARE = "FirmwareType.json"
FIRMWARE_PIPELINE = (
    "[pscustomobject]@{ FirmwareType = $(if ($env:firmware_type) { $env:firmware_type } else { "
    "try { $null = Confirm-SecureBootUEFI; 'UEFI' } "
    "catch [System.PlatformNotSupportedException] { 'Legacy' } catch { $null } }) }"
)
FIRMWARE_TYPES = {"uefi": "uefi", "legacy": "bios", "bios": "bios"}


PIPELINES: dict[str, str] = {
    COMPUTER_SYSTEM: cim(
        "Win32_ComputerSystem",
        "Name",
        "DNSHostName",
        "Domain",
        "Workgroup",
        "PartOfDomain",
        "Manufacturer",
        "Model",
    ),
    BIOS: cim(
        "Win32_BIOS",
        "Manufacturer",
        "SMBIOSBIOSVersion",
        "Version",
        "ReleaseDate",
        "SerialNumber",
    ),
    PRODUCT: cim("Win32_ComputerSystemProduct", "UUID"),
    FIRMWARE: FIRMWARE_PIPELINE,
}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""
REQUIRED_PIPELINES = (COMPUTER_SYSTEM,)


def collect() -> dict[str, str | bytes]:
    return dict(
        powershell(
            PIPELINES,
            required=REQUIRED_PIPELINES,
        )
    )


def parse(raw: Raw) -> dict[str, Any]:
    system = first_instance(raw, COMPUTER_SYSTEM)
    hostname = text((system or {}).get("DNSHostName")) or text((system or {}).get("Name"))
    if system is None or hostname is None:
        raise ProbeFailure("failed", "Win32_ComputerSystem gave no computer name")
    bios = first_instance(raw, BIOS) or {}
    # Off a domain, Win32_ComputerSystem.Domain holds the workgroup name (and Workgroup may be null).
    joined = to_bool(system.get("PartOfDomain"))
    domain = text(system.get("Domain"))
    workgroup = text(system.get("Workgroup"))
    return {
        "system": SystemInfo(
            hostname=hostname,
            domain=domain if joined else None,
            workgroup=(workgroup or domain) if joined is False else workgroup,
            manufacturer=hw_text(system.get("Manufacturer")),
            model=hw_text(system.get("Model")),
            serial=hw_text(bios.get("SerialNumber")),
            bios_vendor=hw_text(bios.get("Manufacturer")),
            bios_version=text(bios.get("SMBIOSBIOSVersion")) or text(bios.get("Version")),
            bios_date=parse_date(bios.get("ReleaseDate")),
            smbios_uuid=smbios_uuid((first_instance(raw, PRODUCT) or {}).get("UUID")),
            firmware_type=FIRMWARE_TYPES.get(  # type: ignore[arg-type]
                (text((first_instance(raw, FIRMWARE) or {}).get("FirmwareType")) or "").lower()
            ),
        )
    }

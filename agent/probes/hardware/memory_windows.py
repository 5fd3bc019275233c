"""hardware.memory on Windows: Win32_PhysicalMemory per module (SMBIOS type 17) and the total the
OS can use from Win32_ComputerSystem.TotalPhysicalMemory."""

from __future__ import annotations

from typing import Any

from agent.probes.base import ProbeFailure, Raw, hw_text, text
from agent.probes.windows import cim, first_instance, instances, powershell, to_int
from agent.schema.report import Memory, MemoryModule

PHYSICAL_MEMORY = "Win32_PhysicalMemory.json"
COMPUTER_SYSTEM = "Win32_ComputerSystem.json"

# SMBIOS 3.x, type 17 "Memory Type" (Win32_PhysicalMemory.SMBIOSMemoryType, and MemoryType on
# Windows 10+ where it is filled at all).
SMBIOS_MEMORY_TYPES = {
    3: "DRAM",
    15: "SDRAM",
    17: "RDRAM",
    18: "DDR",
    19: "DDR2",
    20: "DDR2 FB-DIMM",
    24: "DDR3",
    25: "FBD2",
    26: "DDR4",
    27: "LPDDR",
    28: "LPDDR2",
    29: "LPDDR3",
    30: "LPDDR4",
    32: "HBM",
    33: "HBM2",
    34: "DDR5",
    35: "LPDDR5",
    36: "HBM3",
}


PIPELINES: dict[str, str] = {
    PHYSICAL_MEMORY: cim(
        "Win32_PhysicalMemory",
        "BankLabel",
        "DeviceLocator",
        "Tag",
        "Capacity",
        "Manufacturer",
        "PartNumber",
        "SerialNumber",
        "Speed",
        "ConfiguredClockSpeed",
        "SMBIOSMemoryType",
        "MemoryType",
    ),
    COMPUTER_SYSTEM: cim("Win32_ComputerSystem", "TotalPhysicalMemory"),
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


def _slot(module: dict[str, Any]) -> str:
    """BankLabel and DeviceLocator together: boards repeat "DIMM 0" once per channel."""
    parts = dict.fromkeys(
        part for part in (text(module.get("BankLabel")), text(module.get("DeviceLocator"))) if part
    )
    return " / ".join(parts) or text(module.get("Tag")) or "unknown"


def _module(module: dict[str, Any]) -> MemoryModule | None:
    size = to_int(module.get("Capacity"))
    if not size:  # empty slots are not listed, but some firmware reports a 0-byte ghost
        return None
    memory_type = to_int(module.get("SMBIOSMemoryType")) or to_int(module.get("MemoryType"))
    # The speed it runs at (ConfiguredClockSpeed, Windows 8+), else the speed it is rated for.
    speed = to_int(module.get("ConfiguredClockSpeed")) or to_int(module.get("Speed"))
    return MemoryModule(
        slot=_slot(module),
        size_bytes=size,
        manufacturer=hw_text(module.get("Manufacturer")),
        part_number=hw_text(module.get("PartNumber")),
        serial=hw_text(module.get("SerialNumber")),
        speed_mhz=speed or None,
        type=SMBIOS_MEMORY_TYPES.get(memory_type or 0),
    )


def parse(raw: Raw) -> dict[str, Any]:
    total = to_int((first_instance(raw, COMPUTER_SYSTEM) or {}).get("TotalPhysicalMemory"))
    if total is None:
        raise ProbeFailure("failed", "Win32_ComputerSystem gave no TotalPhysicalMemory")
    modules = [entry for module in instances(raw, PHYSICAL_MEMORY) or [] if (entry := _module(module))]
    return {"memory": Memory(total_bytes=total, modules=modules)}

"""hardware.memory on Linux: the total from ``/proc/meminfo`` and the modules from ``dmidecode -t 17``,
which needs root (and DMI, so not on most ARM boards): without it the module list is empty.

``MemTotal`` is what the kernel manages, a little less than the modules' sum; it is stable per boot.
"""

from __future__ import annotations

import re
from typing import Any

from agent.probes.base import ProbeFailure, Raw, hw_text, read_text, text
from agent.probes.linux import blocks, colon_fields, optional_tool, under
from agent.schema.report import Memory, MemoryModule

MEMINFO = "meminfo"
DMIDECODE = "dmidecode-t17"
_UNITS = {"KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}


def collect(proc: str = "/proc") -> dict[str, str | bytes]:
    meminfo = read_text(under(proc, "meminfo"))
    if meminfo is None:
        raise ProbeFailure("failed", "/proc/meminfo is not readable")
    raw: dict[str, str | bytes] = {MEMINFO: meminfo}
    if (modules := optional_tool("dmidecode", "-t", "17")) is not None:
        raw[DMIDECODE] = modules
    return raw


def _size(value: str) -> int | None:
    """``16 GB`` / ``8192 MB`` → bytes; None for ``No Module Installed`` and the like."""
    match = re.fullmatch(r"(\d+)\s*([KMGT]B)", value.strip(), re.IGNORECASE)
    return int(match[1]) * _UNITS[match[2].upper()] if match else None


def _speed(value: str | None) -> int | None:
    """``3200 MT/s`` or ``2400 MHz`` → 3200 / 2400; None for ``Unknown``."""
    match = re.match(r"(\d+)\s*(MT/s|MHz)", value or "")
    return int(match[1]) if match else None


def _modules(output: str) -> list[MemoryModule]:
    modules = []
    for block in blocks(output):
        if "DMI type 17," not in block:
            continue
        fields = colon_fields(block)
        size = _size(fields.get("Size", ""))
        if not size:
            continue
        modules.append(
            MemoryModule(
                slot=text(fields.get("Locator")) or text(fields.get("Bank Locator")) or f"#{len(modules)}",
                size_bytes=size,
                manufacturer=hw_text(fields.get("Manufacturer")),
                part_number=hw_text(fields.get("Part Number")),
                serial=hw_text(fields.get("Serial Number")),
                speed_mhz=_speed(fields.get("Configured Memory Speed")) or _speed(fields.get("Speed")),
                type=hw_text(fields.get("Type")),
            )
        )
    return modules


def parse(raw: Raw) -> dict[str, Any]:
    total = colon_fields(str(raw.get(MEMINFO, ""))).get("MemTotal", "")
    match = re.fullmatch(r"(\d+)\s*kB", total)
    if match is None:
        raise ProbeFailure("failed", "/proc/meminfo has no MemTotal")
    return {"memory": Memory(total_bytes=int(match[1]) * 1024, modules=_modules(str(raw.get(DMIDECODE, ""))))}

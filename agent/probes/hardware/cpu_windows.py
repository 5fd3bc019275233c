"""hardware.cpu on Windows: Win32_Processor has one instance per socket (XP/2003 without the
Vista-era hotfix: per logical CPU); cores and threads are summed over them.

Vendor, family, model and stepping (what Windows 11's CPU list is keyed by) come from the CPUID
signature in ``ProcessorId`` (its low 32 bits are CPUID leaf 1 EAX), else from ``Description``
("Intel64 Family 6 Model 158 Stepping 10", "Modell" in German). ``Family`` is SMBIOS' processor
family enum (179 = Xeon), not the CPUID family, and is not used."""

from __future__ import annotations

import re
from typing import Any

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.windows import cim, instances, powershell, to_int
from agent.schema.report import Cpu

PROCESSOR = "Win32_Processor.json"


PIPELINES: dict[str, str] = {
    PROCESSOR: cim(
        "Win32_Processor",
        "Name",
        "NumberOfCores",
        "NumberOfLogicalProcessors",
        "MaxClockSpeed",
        "Manufacturer",
        "ProcessorId",
        "Description",
    ),
}
"""What collect() asks PowerShell; declared as data so one run serves every probe."""
REQUIRED_PIPELINES = (PROCESSOR,)


def collect() -> dict[str, str | bytes]:
    return dict(powershell(PIPELINES, required=REQUIRED_PIPELINES))


def _total(processors: list[dict[str, Any]], field: str) -> int | None:
    """Sum over sockets; None when any socket lacks it (XP and 2003 have no core counts)."""
    counts = [to_int(processor.get(field)) for processor in processors]
    if not counts or any(count is None or count < 1 for count in counts):
        return None
    return sum(count for count in counts if count is not None)


_DESCRIPTION = re.compile(r"Family (\d+) Mod\w* (\d+) Stepping (\d+)", re.IGNORECASE)


def cpuid_signature(eax: int) -> tuple[int, int, int]:
    """(display family, display model, stepping) of CPUID leaf 1 EAX, extended fields added as the
    Intel and AMD manuals define: 0x000906EA → (6, 158, 10), 0x00A20F12 → (25, 33, 2)."""
    family, model, stepping = (eax >> 8) & 0xF, (eax >> 4) & 0xF, eax & 0xF
    if family in (6, 0xF):
        model += ((eax >> 16) & 0xF) << 4
    if family == 0xF:
        family += (eax >> 20) & 0xFF
    return family, model, stepping


def signature(processor: dict[str, Any]) -> tuple[int, int, int] | None:
    processor_id = text(processor.get("ProcessorId")) or ""
    if re.fullmatch(r"[0-9A-Fa-f]{16}", processor_id) and (eax := int(processor_id[8:], 16)):
        return cpuid_signature(eax)
    if match := _DESCRIPTION.search(text(processor.get("Description")) or ""):
        family, model, stepping = (int(part) for part in match.groups())
        return family, model, stepping
    return None


def parse(raw: Raw) -> dict[str, Any]:
    processors = instances(raw, PROCESSOR) or []
    names = [re.sub(r"\s+", " ", name) for p in processors if (name := text(p.get("Name")))]
    if not names:
        raise ProbeFailure("failed", "Win32_Processor gave no processor")
    speeds = [speed for p in processors if (speed := to_int(p.get("MaxClockSpeed")))]
    family, model, stepping = signature(processors[0]) or (None, None, None)
    return {
        "cpu": Cpu(
            model=" / ".join(dict.fromkeys(names)),
            cores=_total(processors, "NumberOfCores"),
            threads=_total(processors, "NumberOfLogicalProcessors"),
            sockets=min(len(processors), 64),
            max_mhz=float(max(speeds)) if speeds else None,
            vendor=text(processors[0].get("Manufacturer")),
            family=family,
            model_number=model,
            stepping=stepping,
        )
    }

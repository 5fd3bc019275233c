"""hardware.cpu on Windows: Win32_Processor has one instance per socket (XP/2003 without the
Vista-era hotfix: per logical CPU); cores and threads are summed over them."""

from __future__ import annotations

import re
from typing import Any

from agent.probes.base import ProbeFailure, Raw, text
from agent.probes.windows import cim, instances, powershell, to_int
from agent.schema.report import Cpu

PROCESSOR = "Win32_Processor.json"


def collect() -> dict[str, str | bytes]:
    pipeline = cim(
        "Win32_Processor",
        "Name",
        "NumberOfCores",
        "NumberOfLogicalProcessors",
        "MaxClockSpeed",
    )
    return dict(powershell({PROCESSOR: pipeline}, required=(PROCESSOR,)))


def _total(processors: list[dict[str, Any]], field: str) -> int | None:
    """Sum over sockets; None when any socket lacks it (XP and 2003 have no core counts)."""
    counts = [to_int(processor.get(field)) for processor in processors]
    if not counts or any(count is None or count < 1 for count in counts):
        return None
    return sum(count for count in counts if count is not None)


def parse(raw: Raw) -> dict[str, Any]:
    processors = instances(raw, PROCESSOR) or []
    names = [re.sub(r"\s+", " ", name) for p in processors if (name := text(p.get("Name")))]
    if not names:
        raise ProbeFailure("failed", "Win32_Processor gave no processor")
    speeds = [speed for p in processors if (speed := to_int(p.get("MaxClockSpeed")))]
    return {
        "cpu": Cpu(
            model=" / ".join(dict.fromkeys(names)),
            cores=_total(processors, "NumberOfCores"),
            threads=_total(processors, "NumberOfLogicalProcessors"),
            sockets=min(len(processors), 64),
            max_mhz=float(max(speeds)) if speeds else None,
        )
    }

"""health.system (every platform, psutil): boot time, CPU busy, memory, swap and load — the fields
a Health section cannot go without.

``cpu_percent`` is measured without blocking, over the time since the previous report; the first
collect has no previous sample, so it samples for half a second instead.
"""

from __future__ import annotations

import os
from typing import Any

import psutil

from agent.probes.base import ProbeFailure, Raw, epoch_utc
from agent.probes.health import snapshot

FIRST_SAMPLE_SECONDS = 0.5
_sampled_before = False


def _cpu_percent() -> float:
    global _sampled_before
    interval = None if _sampled_before else FIRST_SAMPLE_SECONDS
    _sampled_before = True
    return psutil.cpu_percent(interval=interval)


def collect() -> dict[str, str | bytes]:
    return snapshot.dump(
        {
            "boot_time": psutil.boot_time(),
            "cpu_percent": _cpu_percent(),
            "cpu_count": psutil.cpu_count(),
            "virtual_memory": psutil.virtual_memory(),
            "swap_memory": psutil.swap_memory(),
            # os.getloadavg is Unix-only; psutil's Windows emulation reads 0 for its first seconds.
            "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
        }
    )


def parse(raw: Raw) -> dict[str, Any]:
    data = snapshot.load(raw)
    boot_time = epoch_utc(data.get("boot_time"))
    if boot_time is None:
        raise ProbeFailure("failed", "psutil gave no boot time")
    memory, swap = data["virtual_memory"], data["swap_memory"]
    load = data.get("loadavg") or [None, None, None]
    return {
        "boot_time": boot_time,
        "cpu_percent": min(max(float(data["cpu_percent"]), 0.0), 100.0),
        "cpu_count": data.get("cpu_count") or 1,
        "memory_total_bytes": memory["total"],
        "memory_available_bytes": memory["available"],
        "swap_total_bytes": swap["total"],
        "swap_used_bytes": swap["used"],
        "load_1m": load[0],
        "load_5m": load[1],
        "load_15m": load[2],
    }

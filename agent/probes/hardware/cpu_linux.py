"""hardware.cpu on Linux: ``/proc/cpuinfo`` for the model and the logical CPUs, sysfs topology for
cores and sockets (``/proc/cpuinfo`` has no ``physical id`` on ARM), ``cpufreq`` for the top clock.

The ``cpu MHz`` of ``/proc/cpuinfo`` is the current clock and changes all the time, so it is never
used: a VM without ``cpufreq`` reports no ``max_mhz``. Vendor, family, model and stepping are the
x86 ``vendor_id``, ``cpu family``, ``model``, ``stepping`` (already CPUID display values); ARM has none.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from agent.probes.base import ProbeFailure, Raw, load_json, read_text, text
from agent.probes.linux import blocks, colon_fields, sysfs_attributes, to_json, under
from agent.schema.report import Cpu

CPUINFO = "cpuinfo"
TOPOLOGY = "cpu-topology.json"
_ATTRIBUTES = ("topology/physical_package_id", "topology/thread_siblings_list", "cpufreq/cpuinfo_max_freq")

# /proc/cpuinfo on 64-bit ARM names no model, only implementer and part numbers (as lscpu decodes).
ARM_IMPLEMENTERS = {
    "0x41": "ARM",
    "0x42": "Broadcom",
    "0x43": "Cavium",
    "0x48": "HiSilicon",
    "0x4e": "NVIDIA",
    "0x50": "APM",
    "0x51": "Qualcomm",
    "0x61": "Apple",
    "0x70": "Phytium",
    "0xc0": "Ampere",
}
ARM_PARTS = {
    "0xc07": "Cortex-A7",
    "0xc09": "Cortex-A9",
    "0xc0f": "Cortex-A15",
    "0xd03": "Cortex-A53",
    "0xd04": "Cortex-A35",
    "0xd05": "Cortex-A55",
    "0xd07": "Cortex-A57",
    "0xd08": "Cortex-A72",
    "0xd09": "Cortex-A73",
    "0xd0a": "Cortex-A75",
    "0xd0b": "Cortex-A76",
    "0xd0c": "Neoverse-N1",
    "0xd0d": "Cortex-A77",
    "0xd40": "Neoverse-V1",
    "0xd41": "Cortex-A78",
    "0xd44": "Cortex-X1",
    "0xd46": "Cortex-A510",
    "0xd47": "Cortex-A710",
    "0xd48": "Cortex-X2",
    "0xd49": "Neoverse-N2",
    "0xd4f": "Neoverse-V2",
}


def collect(proc: str = "/proc", sys: str = "/sys") -> dict[str, str | bytes]:
    cpuinfo = read_text(under(proc, "cpuinfo"))
    if cpuinfo is None:
        raise ProbeFailure("failed", "/proc/cpuinfo is not readable")
    cpus: dict[str, dict[str, str]] = {}
    for directory in sorted(under(sys, "devices/system/cpu").glob("cpu[0-9]*")):
        cpus[directory.name] = sysfs_attributes(Path(directory), _ATTRIBUTES)
    return {CPUINFO: cpuinfo, TOPOLOGY: to_json(cpus)}


def _arm_model(fields: dict[str, str]) -> str | None:
    implementer = fields.get("CPU implementer", "").lower()
    if implementer not in ARM_IMPLEMENTERS:
        return None
    part = fields.get("CPU part", "").lower()
    name = ARM_PARTS.get(part) if implementer == "0x41" else None
    return f"{ARM_IMPLEMENTERS[implementer]} {name or f'CPU part {part}'}"


def _model(processors: list[dict[str, str]], extra: dict[str, str]) -> str:
    """One name per distinct model (two different sockets give ``A / B``)."""
    names = []
    for fields in processors:
        # On ARM the part number says more than "ARMv7 Processor rev 3 (v7l)".
        name = _arm_model(fields) or fields.get("model name") or fields.get("cpu model") or fields.get("cpu")
        if name:
            names.append(re.sub(r"\s+", " ", name))
    if not names and (board := extra.get("Hardware") or extra.get("Processor")):
        names.append(board)
    return text(" / ".join(dict.fromkeys(names))) or "unknown"


def _counts(
    processors: list[dict[str, str]], topology: dict[str, dict[str, str]]
) -> tuple[int | None, int | None]:
    """(cores, sockets) from sysfs, else from the ``physical id`` / ``core id`` of cpuinfo."""
    siblings = {cpu.get("topology/thread_siblings_list") for cpu in topology.values()} - {None}
    # Some ARM boards report package -1 for every CPU: still one distinct package.
    packages = {cpu.get("topology/physical_package_id") for cpu in topology.values()} - {None}
    if siblings:
        return len(siblings), len(packages) or None
    cores = {(fields.get("physical id"), fields.get("core id")) for fields in processors}
    if (None, None) in cores:
        return None, None
    return len(cores), len({package for package, _core in cores})


def _number(value: str | None) -> int | None:
    """A decimal cpuinfo field; None for ARM's ``model name``-less values or "unknown"."""
    return int(value) if value and value.isdigit() and int(value) <= 0xFFFF else None


def parse(raw: Raw) -> dict[str, Any]:
    paragraphs = [colon_fields(block) for block in blocks(str(raw.get(CPUINFO, "")))]
    processors = [fields for fields in paragraphs if "processor" in fields and fields["processor"].isdigit()]
    if not processors:
        raise ProbeFailure("failed", "/proc/cpuinfo lists no processor")
    # Lines outside the per-CPU blocks (ARM boards: Hardware, Revision, Model).
    extra = {
        key: value for fields in paragraphs if "processor" not in fields for key, value in fields.items()
    }
    topology: dict[str, dict[str, str]] = load_json(raw, TOPOLOGY) or {}
    cores, sockets = _counts(processors, topology)
    first = processors[0]
    max_khz = [cpu.get("cpufreq/cpuinfo_max_freq", "") for cpu in topology.values()]
    top_khz = [int(khz) for khz in max_khz if khz.isdigit()]
    return {
        "cpu": Cpu(
            model=_model(processors, extra),
            cores=cores,
            threads=len(processors),
            sockets=sockets,
            max_mhz=max(top_khz) / 1000 if top_khz else None,
            vendor=text(first.get("vendor_id")),
            family=_number(first.get("cpu family")),
            model_number=_number(first.get("model")),
            stepping=_number(first.get("stepping")),
        )
    }

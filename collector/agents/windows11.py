"""Can this PC move to Windows 11, and what stops it: TPM 2.0, UEFI with Secure Boot, a supported
CPU (the table in ``windows11_cpus.yaml``), 4 GB of RAM and a 64 GB disk — from the facts the
agent reports. Pure: the host API and the fleet exporter call it on what they hold.

A requirement the facts do not answer (an agent still on report schema 1, a probe that failed) is
*unknown*, never *met*: "ready" means every requirement was seen to hold.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

import msgspec
import yaml

from agent.schema.report import Cpu, Hardware, OperatingSystem, Security

Requirement = Literal["tpm", "uefi", "secure_boot", "cpu", "ram", "disk"]
REQUIREMENTS: tuple[Requirement, ...] = ("tpm", "uefi", "secure_boot", "cpu", "ram", "disk")
Status = Literal["windows11", "ready", "not_ready", "unknown", "not_applicable"]

MIN_RAM_BYTES = 4 * 1024**3
RAM_SLACK_BYTES = 256 * 1024**2
"""The OS reports a little less than what is installed (firmware and graphics reserve some): a
4 GB PC must not read as 3.8 GB and fail."""
MIN_DISK_BYTES = 64 * 10**9
WINDOWS10_END_OF_SUPPORT = date(2025, 10, 14)
LTSC_EDITIONS = ("EnterpriseS", "EnterpriseSN", "IoTEnterpriseS")
"""Windows 10 LTSC editions: supported past 2025 (2027, 2029, 2032), not on the consumer dates."""
CPU_TABLE = Path(__file__).with_name("windows11_cpus.yaml")


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    status: Status
    failing: list[Requirement] = []
    """Requirements the facts show unmet."""
    unknown: list[Requirement] = []
    """Requirements the facts do not answer."""
    windows10_end_of_support: bool = False
    """A Windows 10 (non-LTSC) PC past 14 October 2025: no security updates without paid ESU."""


class _Processors(msgspec.Struct, frozen=True):
    vendor: str
    family: int
    models: dict[int, int] | Literal["all"]
    """Model → first supported stepping; ``all``: every model of the family."""


class _CpuTable(msgspec.Struct, frozen=True):
    source: str
    processors: list[_Processors]


@cache
def cpu_table(path: Path = CPU_TABLE) -> _CpuTable:
    return msgspec.convert(yaml.safe_load(path.read_text(encoding="utf-8")), _CpuTable)


def cpu_supported(cpu: Cpu) -> bool | None:
    """None when the CPU's signature was not reported (schema 1, or the probe failed)."""
    if cpu.vendor is None or cpu.family is None or cpu.model_number is None:
        return None
    for entry in cpu_table().processors:
        if entry.vendor != cpu.vendor or entry.family != cpu.family:
            continue
        if entry.models == "all":
            return True
        first_stepping = entry.models.get(cpu.model_number)
        if first_stepping is None:
            return False
        if first_stepping == 0:
            return True
        return None if cpu.stepping is None else cpu.stepping >= first_stepping
    return False


def _checks(hardware: Hardware, security: Security | None) -> dict[Requirement, bool | None]:
    tpm = hardware.tpm
    system = hardware.system
    memory = hardware.memory
    installed = None
    if memory is not None:
        modules = sum(module.size_bytes for module in memory.modules)
        installed = modules or memory.total_bytes + RAM_SLACK_BYTES
    return {
        "tpm": None
        if tpm is None
        else tpm.present and (tpm.version or "").startswith("2.") and tpm.enabled is not False,
        "uefi": None if system is None or system.firmware_type is None else system.firmware_type == "uefi",
        "secure_boot": None if security is None else security.secure_boot,
        "cpu": None if hardware.cpu is None else cpu_supported(hardware.cpu),
        "ram": None if installed is None else installed >= MIN_RAM_BYTES,
        "disk": None
        if not hardware.disks
        else max(disk.size_bytes for disk in hardware.disks) >= MIN_DISK_BYTES,
    }


def _is_windows10(os_: OperatingSystem) -> bool:
    return os_.family == "windows" and "Windows 10" in os_.name and "Server" not in os_.name


def assess(hardware: Hardware | None, security: Security | None, today: date) -> Readiness:
    os_ = None if hardware is None else hardware.os
    if hardware is None or os_ is None:
        return Readiness(status="unknown", unknown=list(REQUIREMENTS))
    if os_.family != "windows" or "Server" in os_.name:
        return Readiness(status="not_applicable")
    if "Windows 11" in os_.name:
        return Readiness(status="windows11")
    checks = _checks(hardware, security)
    failing = [name for name, met in checks.items() if met is False]
    unknown = [name for name, met in checks.items() if met is None]
    past_support = (
        _is_windows10(os_) and today >= WINDOWS10_END_OF_SUPPORT and (os_.edition or "") not in LTSC_EDITIONS
    )
    status: Status = "not_ready" if failing else "unknown" if unknown else "ready"
    return Readiness(status=status, failing=failing, unknown=unknown, windows10_end_of_support=past_support)

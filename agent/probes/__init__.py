"""The list of probes, and the one place where the OS-specific module of each is chosen."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from agent.os_defaults import PLATFORM

Section = Literal["hardware", "security", "inventory", "health"]
"""Where a probe's fields land: ``Inventory.hardware``, ``Inventory.security``, ``Inventory``
itself (software, hotfixes) or ``Report.health``."""


@dataclass(frozen=True)
class Probe:
    name: str
    section: Section
    module_path: str
    """``agent.probes.<package>.<name>`` without the platform suffix."""
    cadence: str | None = None
    """An expensive probe (over 0.2 s CPU) runs only every ``<cadence>_interval`` of the agent's
    config; between runs the runner reuses its last result. None: every run."""

    def load(self, platform: str = PLATFORM) -> ModuleType | None:
        """The module for this platform (``<name>_<platform>``, else a portable ``<name>``), or None
        where the probe does not apply (e.g. hotfixes on Linux)."""
        for candidate in (f"{self.module_path}_{platform}", self.module_path):
            try:
                return importlib.import_module(candidate)
            except ModuleNotFoundError as exc:
                if exc.name != candidate:
                    raise
        return None


def _probe(name: str, section: Section, cadence: str | None = None) -> Probe:
    package, _, module = name.partition(".")
    return Probe(name=name, section=section, module_path=f"agent.probes.{package}.{module}", cadence=cadence)


INVENTORY_PROBES: tuple[Probe, ...] = (
    _probe("hardware.system", "hardware"),  # system: SystemInfo
    _probe("hardware.os", "hardware"),  # os: OperatingSystem
    _probe("hardware.cpu", "hardware"),  # cpu: Cpu
    _probe("hardware.memory", "hardware"),  # memory: Memory
    _probe("hardware.disks", "hardware"),  # disks: list[Disk]
    _probe("hardware.network", "hardware"),  # network_interfaces: list[NetworkInterface]
    _probe("hardware.monitors", "hardware"),  # monitors: list[Monitor]
    _probe("hardware.tpm", "hardware"),  # tpm: Tpm
    _probe("software.packages", "inventory"),  # software: list[SoftwarePackage]
    _probe("software.hotfixes", "inventory"),  # hotfixes: list[Hotfix] (Windows)
    _probe("security.antivirus", "security"),  # antivirus
    _probe("security.firewall", "security"),  # firewall
    # updates; the update search (apt-get -s: 2 s CPU, 84 MB; Windows Update) every updates_interval
    _probe("security.updates", "security", cadence="updates"),
    _probe("security.encryption", "security"),  # disk_encryption
    _probe("security.accounts", "security"),  # local_admins, guest_enabled
    _probe("security.remote_access", "security"),  # rdp_enabled, ssh_enabled
    _probe("security.platform", "security"),  # smb1_enabled, secure_boot, uac_enabled
)

HEALTH_PROBES: tuple[Probe, ...] = (
    _probe("health.system", "health"),  # boot_time, cpu, memory, swap, load (required fields)
    _probe("health.filesystems", "health"),  # filesystems
    _probe("health.io", "health"),  # disk_io, net_io
    _probe("health.sensors", "health"),  # temperatures, fans, battery
    _probe("health.users", "health"),  # users
)

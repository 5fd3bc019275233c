"""Where the agent's own code (not its probes) differs between Windows and Linux, decided once here.

``PLATFORM`` is the only test of ``sys.platform`` in the agent: the probes pick their
``<name>_<platform>`` module by it, the child-process launcher its way of ending a process tree.
Everything else that differs — where the config, the state and the service's log live, where the
OS keeps its machine id — is a value of :data:`CURRENT`, so a reader sees both OSes side by side.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Platform = Literal["windows", "linux"]
PLATFORM: Platform = "windows" if sys.platform == "win32" else "linux"

_PROGRAM_DATA = Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData"), "Dozor")
"""Only SYSTEM and Administrators may read it (the MSI sets its permissions)."""


@dataclass(frozen=True, slots=True)
class OsDefaults:
    config_path: Path
    state_dir: Path
    service_log_file: Path | None
    """The service's size-capped rotating log; None where the service manager keeps the log
    (systemd's journal reads the agent's stderr)."""
    machine_id_files: tuple[Path, ...]
    """Files holding the OS's machine id; empty where it is in the registry instead."""
    hardware_uuid_file: Path | None
    """Where the SMBIOS system UUID can be read (root only); None where it is in the registry."""


WINDOWS = OsDefaults(
    config_path=_PROGRAM_DATA / "agent.yaml",
    state_dir=_PROGRAM_DATA,
    service_log_file=_PROGRAM_DATA / "logs" / "agent.log",
    machine_id_files=(),
    hardware_uuid_file=None,
)
LINUX = OsDefaults(
    config_path=Path("/etc/dozor/agent.yaml"),
    state_dir=Path("/var/lib/dozor-agent"),
    service_log_file=None,
    machine_id_files=(Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id")),
    hardware_uuid_file=Path("/sys/class/dmi/id/product_uuid"),
)
CURRENT = WINDOWS if PLATFORM == "windows" else LINUX


def machine_id_candidates(files: Sequence[Path] = CURRENT.machine_id_files) -> Iterator[str]:
    """The raw text of every place this OS keeps its stable id, best first (the caller checks it):
    MachineGuid on Windows, systemd/dbus machine-id files on Linux."""
    if PLATFORM == "windows":
        guid = _windows_machine_guid()
        if guid is not None:
            yield guid
        return
    for path in files:
        try:
            yield path.read_text(encoding="ascii", errors="replace")
        except OSError:
            continue


def hardware_uuid_text(file: Path | None = CURRENT.hardware_uuid_file) -> str | None:
    """The raw SMBIOS system UUID, sent at enrollment so that PCs imaged from one master (one
    MachineGuid) stay apart: sysfs on Linux, HardwareConfig\\LastConfig on Windows."""
    if PLATFORM == "windows":
        return _windows_registry_value(r"SYSTEM\HardwareConfig", "LastConfig")
    if file is None:
        return None
    try:
        return file.read_text(encoding="ascii", errors="replace")
    except OSError:  # not root, or no DMI (a VM without it)
        return None


def _windows_machine_guid() -> str | None:
    return _windows_registry_value(r"SOFTWARE\Microsoft\Cryptography", "MachineGuid")


def _windows_registry_value(path: str, name: str) -> str | None:
    import winreg

    try:
        with winreg.OpenKey(
            winreg.HKEY_LOCAL_MACHINE, path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
        ) as key:
            value, _ = winreg.QueryValueEx(key, name)
    except OSError:
        return None
    return str(value)

"""The in-memory view of the SSH config backups that ``/metrics`` renders from.

Each backup attempt replaces a device's entry with what the store says after it (so a restart or a
replica taking a device over shows the same times and host-key state) plus this collector's own
counters. Entries are replaced, never mutated: a scrape in another thread sees whole states.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store module pulls in the SSH poller; metrics need none of it
    from collector.sources.ssh.store import SshStatus


@dataclass(frozen=True)
class BackupState:
    device_id: int
    name: str
    """The configured name, else the device's hostname, else its address (as the SNMP view names it)."""
    last_success: float | None = None
    """Unix time of the last backup that got a config."""
    last_change: float | None = None
    """Unix time the running config last changed."""
    host_key_mismatch: bool = False
    """A different host key awaits an administrator's acceptance; backups are stopped."""
    config_changes: int = 0
    """Config changes this collector has stored since it started."""
    errors: MappingProxyType[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Failed backups since start, by error kind."""


class BackupView:
    def __init__(self) -> None:
        self._devices: dict[int, BackupState] = {}
        self._lock = threading.Lock()

    def devices(self) -> list[BackupState]:
        with self._lock:
            return list(self._devices.values())

    def get(self, device_id: int) -> BackupState | None:
        with self._lock:
            return self._devices.get(device_id)

    def record(self, name: str, status: SshStatus, *, changed: bool, error_kind: str | None) -> None:
        """One backup attempt's outcome: ``status`` as stored after it, whether it stored a config
        change, and its error kind (None: it succeeded)."""
        with self._lock:
            old = self._devices.get(status.device_id) or BackupState(status.device_id, name)
            errors = dict(old.errors)
            if error_kind is not None:
                errors[error_kind] = errors.get(error_kind, 0) + 1
            self._devices[status.device_id] = BackupState(
                device_id=status.device_id,
                name=name,
                last_success=status.last_success_at.timestamp() if status.last_success_at else None,
                last_change=status.last_change_at.timestamp() if status.last_change_at else None,
                host_key_mismatch=status.pending_host_key_fingerprint is not None,
                config_changes=old.config_changes + changed,
                errors=MappingProxyType(errors),
            )

    def forget(self, device_id: int) -> None:
        """Drop a device another replica backs up, so this one exports no stale series for it."""
        with self._lock:
            self._devices.pop(device_id, None)

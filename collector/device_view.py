"""The in-memory view of the polled network devices (switches, printers, UPSes) that ``/metrics``
renders from and the device API reads the last error from.

The SNMP scheduler updates it after each poll; entries are replaced, never mutated, so a scrape in
another thread always sees whole device states. Only what the metrics need of the facts is kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class DeviceState:
    device_id: int
    address: str
    name: str
    """The configured name, else the device's sysName, else its address."""
    kind: str
    location: str | None = None
    group: str | None = None
    last_attempt: float | None = None
    """Unix time the last poll ended."""
    last_success: float | None = None
    """Unix time of the last poll the device answered."""
    up: bool = False
    """Whether the last poll got an answer."""
    error_kind: str | None = None
    """Why the last poll failed (an SnmpError kind such as ``timeout``); None after a success."""
    error_message: str | None = None
    part_errors: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Parts of the last poll that failed (``"printer.supplies"`` → error kind)."""
    poll_errors: MappingProxyType[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Failed polls since start, by error kind (a counter)."""
    interfaces: tuple[dict[str, Any], ...] = ()
    supplies: tuple[dict[str, Any], ...] = ()
    printer: dict[str, Any] | None = None
    ups: dict[str, Any] | None = None


class DeviceView:
    def __init__(self) -> None:
        self._devices: dict[int, DeviceState] = {}
        self._lock = threading.Lock()

    def devices(self) -> list[DeviceState]:
        with self._lock:
            return list(self._devices.values())

    def get(self, device_id: int) -> DeviceState | None:
        with self._lock:
            return self._devices.get(device_id)

    def record_success(
        self,
        device_id: int,
        *,
        address: str,
        name: str,
        kind: str,
        location: str | None,
        group: str | None,
        at: float,
        facts: dict[str, Any],
        part_errors: dict[str, str],
    ) -> None:
        """A poll the device answered; sections the poll did not get keep their last value."""
        with self._lock:
            known = self._devices.get(device_id)
            state = known or DeviceState(device_id=device_id, address=address, name=name, kind=kind)
            changes: dict[str, Any] = {
                "address": address,
                "name": name,
                "kind": kind,
                "location": location,
                "group": group,
                "last_attempt": at,
                "last_success": at,
                "up": True,
                "error_kind": None,
                "error_message": None,
                "part_errors": MappingProxyType(dict(part_errors)),
            }
            if "interfaces" in facts:
                changes["interfaces"] = tuple(facts["interfaces"])
            if "supplies" in facts:
                changes["supplies"] = tuple(facts["supplies"])
            if "printer" in facts:
                changes["printer"] = facts["printer"]
            if "ups" in facts:
                changes["ups"] = facts["ups"]
            self._devices[device_id] = replace(state, **changes)

    def record_failure(
        self,
        device_id: int,
        *,
        address: str,
        name: str,
        kind: str,
        location: str | None,
        group: str | None,
        at: float,
        error_kind: str,
        error_message: str,
    ) -> None:
        """A poll the device did not answer: down, with the named error; facts stay as last known."""
        with self._lock:
            known = self._devices.get(device_id)
            state = known or DeviceState(device_id=device_id, address=address, name=name, kind=kind)
            counts = dict(state.poll_errors)
            counts[error_kind] = counts.get(error_kind, 0) + 1
            self._devices[device_id] = replace(
                state,
                address=address,
                name=name,
                kind=kind,
                location=location,
                group=group,
                last_attempt=at,
                up=False,
                error_kind=error_kind,
                error_message=error_message,
                part_errors=MappingProxyType({}),
                poll_errors=MappingProxyType(counts),
            )

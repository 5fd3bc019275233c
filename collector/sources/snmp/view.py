"""The in-memory view of the polled network devices (switches, printers, UPSes) that ``/metrics``
renders from and the device API reads the last error from.

The SNMP scheduler updates it after each poll; entries are replaced, never mutated, so a scrape in
another thread always sees whole device states. Only what the metrics need of the facts is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from collector.sources.snmp.counters import device_restarted, track_interfaces
from collector.sources.snmp.supplies import supply_names


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """What the configuration and the store say a device is; refreshed on every poll."""

    address: str
    name: str
    """The configured name, else the device's sysName, else its address."""
    kind: str
    location: str | None = None
    group: str | None = None


@dataclass(frozen=True)
class DeviceState:
    device_id: int
    identity: DeviceIdentity
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
    """Interfaces with counter totals and rates (``collector.sources.snmp.counters.track_interfaces``)."""
    interfaces_at: float | None = None
    """Unix time of the poll the interfaces were read in."""
    uptime_ticks: int | None = None
    """sysUpTime at that poll, to tell a device restart from a counter wrap."""
    uplinks: frozenset[str] = frozenset()
    """Names of the ports with an LLDP neighbour (links to other network gear)."""
    supplies: tuple[dict[str, Any], ...] = ()
    """Supplies with their label ``name`` and forecast ``empty_at`` (Unix time or None)."""
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
        identity: DeviceIdentity,
        *,
        at: float,
        facts: dict[str, Any],
        part_errors: dict[str, str],
        supply_empty_at: Mapping[str, float | None] | None = None,
    ) -> None:
        """A poll the device answered; sections the poll did not get keep their last value.

        ``supply_empty_at``: supply name → Unix time it runs out (the store's forecast).
        """
        with self._lock:
            state = self._devices.get(device_id) or DeviceState(device_id, identity)
            changes: dict[str, Any] = {
                "identity": identity,
                "last_attempt": at,
                "last_success": at,
                "up": True,
                "error_kind": None,
                "error_message": None,
                "part_errors": MappingProxyType(dict(part_errors)),
            }
            if "interfaces" in facts:
                changes |= _interface_changes(state, facts, at)
            if "lldp" in facts:
                changes["uplinks"] = frozenset(
                    str(n["local_port_name"]) for n in facts["lldp"] if n.get("local_port_name")
                )
            if "supplies" in facts:
                forecasts = supply_empty_at or {}
                changes["supplies"] = tuple(
                    {**supply, "name": name, "empty_at": forecasts.get(name)}
                    for name, supply in zip(supply_names(facts["supplies"]), facts["supplies"], strict=True)
                )
            for section in ("printer", "ups"):
                if section in facts:
                    changes[section] = facts[section]
            self._devices[device_id] = replace(state, **changes)

    def forget(self, device_id: int) -> None:
        """Drop a device this collector no longer polls, so it exports no stale series for it."""
        with self._lock:
            self._devices.pop(device_id, None)

    def record_failure(
        self, device_id: int, identity: DeviceIdentity, *, at: float, error_kind: str, error_message: str
    ) -> None:
        """A poll the device did not answer: down, with the named error; facts stay as last known."""
        with self._lock:
            state = self._devices.get(device_id) or DeviceState(device_id, identity)
            counts = dict(state.poll_errors)
            counts[error_kind] = counts.get(error_kind, 0) + 1
            self._devices[device_id] = replace(
                state,
                identity=identity,
                last_attempt=at,
                up=False,
                error_kind=error_kind,
                error_message=error_message,
                part_errors=MappingProxyType({}),
                poll_errors=MappingProxyType(counts),
            )


def _interface_changes(state: DeviceState, facts: dict[str, Any], at: float) -> dict[str, Any]:
    """The new interfaces with their counters carried on from the last reading."""
    uptime = (facts.get("system") or {}).get("uptime_ticks")
    uptime = uptime if isinstance(uptime, int) else None
    elapsed = at - state.interfaces_at if state.interfaces_at is not None else None
    interfaces = track_interfaces(
        state.interfaces,
        facts["interfaces"],
        elapsed=elapsed,
        restarted=device_restarted(state.uptime_ticks, uptime, elapsed or 0.0),
    )
    return {"interfaces": tuple(interfaces), "interfaces_at": at, "uptime_ticks": uptime}

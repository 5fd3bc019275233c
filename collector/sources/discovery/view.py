"""The in-memory view of LAN discovery that ``/metrics`` renders from: the last sweep's time and
outcome, errors by kind since start, and the unknown devices as the store listed them after the
last run. The state is replaced whole, never mutated: a scrape in another thread sees one state."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store module pulls in the correlation; metrics need none of it
    from collector.sources.discovery.store import UnknownDevice


@dataclass(frozen=True)
class DiscoveryState:
    ran: bool = False
    """A run finished since start (before that nothing is exported)."""
    last_success: float | None = None
    """Unix time of the last sweep that completed."""
    sweep_seconds: float | None = None
    """Wall time of the last completed sweep."""
    errors: MappingProxyType[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Failed sweeps since start, by ``DiscoveryError`` kind (``internal`` for anything else)."""
    last_error: tuple[str, str] | None = None
    """(kind, message) of the last run's failure; None when it succeeded."""
    unknown: tuple[UnknownDevice, ...] = ()


class DiscoveryView:
    def __init__(self) -> None:
        self._state = DiscoveryState()
        self._lock = threading.Lock()

    def state(self) -> DiscoveryState:
        return self._state

    def record(
        self,
        *,
        at: float,
        sweep_seconds: float | None,
        error: tuple[str, str] | None,
        unknown: tuple[UnknownDevice, ...] | None,
    ) -> None:
        """One run: its sweep's time (None: the sweep failed with ``error``), and the unknown
        devices (None: the store was not read, keep the last list)."""
        with self._lock:
            state = self._state
            errors = dict(state.errors)
            if error is not None:
                errors[error[0]] = errors.get(error[0], 0) + 1
            self._state = DiscoveryState(
                ran=True,
                last_success=at if error is None else state.last_success,
                sweep_seconds=sweep_seconds if sweep_seconds is not None else state.sweep_seconds,
                errors=MappingProxyType(errors),
                last_error=error,
                unknown=state.unknown if unknown is None else unknown,
            )

    def forget(self, device_id: int) -> None:
        """An administrator accepted or retired the device: it is no longer unknown."""
        with self._lock:
            unknown = tuple(device for device in self._state.unknown if device.device_id != device_id)
            self._state = replace(self._state, unknown=unknown)

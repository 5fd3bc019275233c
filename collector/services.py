"""One lifecycle for every long-running part of the collector (ingest writer, fleet sync, local
agent, digest, SNMP, SSH, discovery): a name, ``start`` and ``stop`` on the app's event loop, and
a runner that starts them in order, stops them in reverse and keeps each one's state.

A service that fails to start is logged with its name and left out; the others run. A collector
without SNMP because of one bad profile still takes agents' reports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

log = logging.getLogger(__name__)

ServiceState = Literal["not_started", "running", "failed", "stopped"]


class Service(Protocol):
    name: str
    """Short and stable (``snmp``, ``ingest``): it names the service in logs and health views."""

    async def start(self) -> None:
        """Begin work on the running event loop and return (schedule jobs, create tasks)."""

    async def stop(self) -> None:
        """End work, waiting only for what must finish (a transaction in flight)."""


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    name: str
    state: ServiceState
    since: datetime | None = None
    error: str | None = None
    """Why the last start or stop failed (exception type and message)."""


class ServiceRunner:
    def __init__(
        self, services: Sequence[Service], clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        names = [service.name for service in services]
        if len(set(names)) != len(names):
            raise ValueError(f"service names must be unique: {names}")
        self._services = list(services)
        self._clock = clock
        self._health = {name: ServiceHealth(name, "not_started") for name in names}

    @property
    def names(self) -> list[str]:
        return [service.name for service in self._services]

    def health(self) -> list[ServiceHealth]:
        """Each service's state, in start order."""
        return [self._health[service.name] for service in self._services]

    async def start(self) -> None:
        for service in self._services:
            try:
                await service.start()
            except Exception as exc:  # one broken service must not keep the others down
                self._record(service.name, "failed", exc)
                log.error("service %s failed to start: %s: %s", service.name, exc.__class__.__name__, exc)
                log.debug("service %s start failure", service.name, exc_info=True)
            else:
                self._record(service.name, "running")
        running = [health.name for health in self.health() if health.state == "running"]
        log.info("services running: %s", ", ".join(running) or "none")

    async def stop(self) -> None:
        for service in reversed(self._services):
            if self._health[service.name].state != "running":
                continue
            try:
                await service.stop()
            except Exception as exc:  # stop the rest all the same
                self._record(service.name, "failed", exc)
                log.error("service %s failed to stop: %s: %s", service.name, exc.__class__.__name__, exc)
            else:
                self._record(service.name, "stopped")

    def _record(self, name: str, state: ServiceState, error: BaseException | None = None) -> None:
        message = None if error is None else f"{error.__class__.__name__}: {error}"
        self._health[name] = ServiceHealth(name, state, self._clock(), message)

"""Keeping the in-memory fleet view in step with the store: loaded whole at start, then merged with
the hosts seen since the last pass (what other replicas received), and rebuilt whole now and then so
that hosts deleted in the store disappear."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy.orm import Session, sessionmaker

from collector.agents.fleet import Fleet, host_state_from_row
from collector.store.queries import fleet_rows

log = logging.getLogger(__name__)

FULL_RESYNC_EVERY = 20
"""Every so many passes the whole view is rebuilt, so that hosts deleted in the store disappear."""


class FleetSync:
    name = "fleet-sync"

    def __init__(self, sessions: sessionmaker[Session], fleet: Fleet, period_seconds: float) -> None:
        self._sessions = sessions
        self._fleet = fleet
        self._period = period_seconds
        self._task: asyncio.Task[None] | None = None

    def reload(self, seen_since: datetime | None = None) -> int:
        """Rebuild the view from the store: all of it, or merge in the hosts seen since
        ``seen_since``; returns how many hosts were read."""
        with self._sessions() as session:
            # FleetRow's fields are host_state_from_row's parameters, by design.
            states = [
                host_state_from_row(**msgspec.structs.asdict(row)) for row in fleet_rows(session, seen_since)
            ]
        if seen_since is None:
            self._fleet.replace_all(states)
        else:
            self._fleet.merge(states)
        return len(states)

    async def start(self) -> None:
        hosts = await asyncio.to_thread(self.reload)
        log.info("fleet view loaded: %d hosts", hosts)
        self._task = asyncio.create_task(self._follow(), name="dozor-fleet-resync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _follow(self) -> None:
        """Pick up other replicas' reports cheaply (only hosts seen since the last pass, with a
        margin for clock skew between replicas), and rebuild everything now and then."""
        passes = 0
        while True:
            await asyncio.sleep(self._period)
            passes += 1
            since = (
                None
                if passes % FULL_RESYNC_EVERY == 0
                else datetime.now(UTC) - timedelta(seconds=3 * self._period)
            )
            try:
                await asyncio.to_thread(self.reload, since)
            except Exception as exc:  # the store may be briefly unreachable; metrics keep the last view
                log.warning("fleet view refresh failed: %s", exc.__class__.__name__)

"""LAN discovery from the running collector: sweep, correlate with the store, record.

Every ``discovery.interval_seconds`` one replica (the holder of the ``discovery`` lease: sticky,
taken over when its holder stops renewing it) sweeps the configured subnets in a worker thread,
matches what answered and the polled switches' forwarding tables with the known devices
(``collector.sources.discovery.correlate``) and records the result in one transaction
(``collector.sources.discovery.store.record_run``): new unknown devices and port moves become change
events. A sweep that cannot run (no CAP_NET_RAW, a missing interface) is a named error in the
log and in ``dozor_discovery_errors_total``; the forwarding tables are still mapped.

With ``discovery.auto_accept: false`` a small job keeps newly registered PCs and polled devices
``discovered`` until an administrator accepts them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta

import msgspec
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import Session, sessionmaker

from collector.metrics.instruments import CollectorMetrics
from collector.sources.discovery import store
from collector.sources.discovery.config import DiscoveryConfig
from collector.sources.discovery.correlate import correlate, describe_move
from collector.sources.discovery.model import DiscoveryError, Sighting
from collector.sources.discovery.view import DiscoveryView

log = logging.getLogger(__name__)

LEASE = "discovery"
TAKEOVER_INTERVALS = 2.5
"""A replica takes the sweep over when its holder has not run it for this many intervals."""
UNKNOWN_FOR_INTERVALS = 2.5
"""An unknown device stays in the metrics this many intervals after it was last seen, so that
a device that misses one sweep does not end and restart its alert."""
FIRST_RUN_AFTER_SECONDS = 10.0


class RunSummary(msgspec.Struct, kw_only=True):
    """What one run did (the API's "sweep now" answer and the log line)."""

    at: datetime
    ran: bool
    """False: another replica holds the sweep."""
    seconds: float = 0.0
    sightings: int = 0
    """Hosts that answered the sweep."""
    hosts: int = 0
    """MACs and addresses known after correlation (answered, or learned by a switch)."""
    new_unknown: list[int] = []
    """Devices created for MACs never seen before."""
    moves: list[str] = []
    unknown_present: int = 0
    uplinks: int = 0
    shared_ports: int = 0
    error_kind: str | None = None
    error_message: str | None = None


class DiscoveryPolling:
    """Owns the scheduler; ``start()`` and ``stop()`` run on the app's event loop."""

    name = "discovery"

    def __init__(
        self,
        config: DiscoveryConfig,
        sessions: sessionmaker[Session],
        view: DiscoveryView,
        poller_id: str,
        metrics: CollectorMetrics | None = None,
        hold_every_seconds: float = 30.0,
    ) -> None:
        self._config = config
        self._sessions = sessions
        self._view = view
        self._poller_id = poller_id
        self._metrics = metrics
        self._hold_every = hold_every_seconds
        self._scheduler: AsyncIOScheduler | None = None
        self._lock = asyncio.Lock()
        """One run at a time in this process (a scheduled one and an administrator's)."""

    @property
    def sweeps(self) -> bool:
        return bool(self._config.subnets)

    async def start(self) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)
        if self.sweeps:
            interval = self._config.interval_seconds
            self._scheduler.add_job(
                self.run_scheduled,
                IntervalTrigger(seconds=interval, jitter=min(interval * 0.05, 30.0), timezone=UTC),
                id="discovery",
                name="LAN discovery",
                next_run_time=now + timedelta(seconds=FIRST_RUN_AFTER_SECONDS),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=int(interval),
            )
        if not self._config.auto_accept:
            self._scheduler.add_job(
                self.hold_registrations,
                IntervalTrigger(seconds=self._hold_every, timezone=UTC),
                id="discovery-hold",
                name="hold unaccepted registrations",
                next_run_time=now,
                max_instances=1,
                coalesce=True,
            )
        self._scheduler.start()
        log.info(
            "LAN discovery started: %s every %ss, auto_accept=%s",
            ", ".join(self._config.subnets) or "no sweep",
            self._config.interval_seconds,
            self._config.auto_accept,
        )

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        async with self._lock:  # a run in flight finishes its transaction
            pass

    async def run_scheduled(self) -> None:
        """The scheduler's job: a run whose failures are logged, never raised."""
        try:
            await self.run_once()
        except Exception as exc:  # the store being away must not stop the schedule
            log.warning("LAN discovery run failed: %s: %s", exc.__class__.__name__, exc)
            self._view.record(
                at=time.time(), sweep_seconds=None, error=("internal", exc.__class__.__name__), unknown=None
            )

    async def hold_registrations(self) -> None:
        def hold() -> int:
            with self._sessions.begin() as session:
                return store.hold_unaccepted_registrations(session)

        try:
            held = await asyncio.to_thread(hold)
        except Exception as exc:
            log.warning("holding unaccepted registrations failed: %s", exc.__class__.__name__)
            return
        if held:
            log.info("%d newly registered devices wait for acceptance (discovery.auto_accept: false)", held)

    async def run_once(self, *, force: bool = False) -> RunSummary:
        """Sweep (if this replica holds the lease, or ``force``: an administrator asked this one),
        correlate and record. A failed sweep is a named error; the forwarding tables are mapped
        all the same. Store errors propagate."""
        async with self._lock:
            at = datetime.now(UTC)
            if not await asyncio.to_thread(self._claim, at, force):
                log.debug("LAN discovery runs on another replica")
                return RunSummary(at=at, ran=False)
            started = time.monotonic()
            sightings: list[Sighting] = []
            error: tuple[str, str] | None = None
            sweep_seconds = None
            try:
                sightings = await asyncio.to_thread(self._sweep)
                sweep_seconds = time.monotonic() - started
            except DiscoveryError as exc:
                error = (exc.kind, exc.message)
                if exc.kind == "no_cap_net_raw":
                    log.error("LAN sweep cannot run: %s", exc.message)
                else:
                    log.warning("LAN sweep failed: %s: %s", exc.kind, exc.message)
            summary = await asyncio.to_thread(self._record, sightings, at)
            summary.seconds = round(time.monotonic() - started, 3)
            if error is not None:
                summary.error_kind, summary.error_message = error
            unknown = await asyncio.to_thread(self._unknown, at)
            summary.unknown_present = len(unknown)
            self._view.record(at=at.timestamp(), sweep_seconds=sweep_seconds, error=error, unknown=unknown)
            log.info(
                "LAN discovery: %d answered, %d hosts, %d new unknown, %d moves, %d unknown present in %.2fs",
                summary.sightings,
                summary.hosts,
                len(summary.new_unknown),
                len(summary.moves),
                summary.unknown_present,
                summary.seconds,
            )
            return summary

    def _claim(self, at: datetime, force: bool) -> bool:
        takeover = timedelta(seconds=TAKEOVER_INTERVALS * self._config.interval_seconds)
        with self._sessions.begin() as session:
            return store.claim_lease(session, LEASE, self._poller_id, at, takeover, force=force)

    def _sweep(self) -> list[Sighting]:
        if not self.sweeps:
            return []
        from collector.sources.discovery.sweep import SweepConfig, sweep  # scapy: only where a sweep runs

        config = self._config
        assert config.interface is not None  # checked with the config
        return sweep(
            SweepConfig(
                interface=config.interface,
                subnets=config.subnets,
                rate_pps=config.rate_pps,
                timeout=config.timeout,
                retries=config.retries,
                max_prefix=config.max_prefix,
                names=config.names,
                name_timeout=config.name_timeout,
            )
        )

    def _record(self, sightings: list[Sighting], at: datetime) -> RunSummary:
        with self._sessions.begin() as session:
            if not self._config.auto_accept:
                store.hold_unaccepted_registrations(session)
            inputs = store.correlation_inputs(session)
            correlation = correlate(
                sightings, inputs.known, inputs.switches, arp=inputs.arp, many_macs=self._config.many_macs
            )
            recorded = store.record_run(session, correlation, at)
        if self._metrics is not None:
            for change in recorded.changes:
                self._metrics.change_events.labels(change.category, change.kind).inc()
        names = {host.mac: host.device_name for host in correlation.hosts if host.mac}
        return RunSummary(
            at=at,
            ran=True,
            sightings=len(sightings),
            hosts=len(correlation.hosts),
            new_unknown=recorded.new_unknown,
            moves=[describe_move(move, names.get(move.mac)) for move in recorded.moves],
            uplinks=len(correlation.uplinks),
            shared_ports=len(correlation.shared),
        )

    def _unknown(self, at: datetime) -> tuple[store.UnknownDevice, ...]:
        since = at - timedelta(seconds=UNKNOWN_FOR_INTERVALS * self._config.interval_seconds)
        with self._sessions() as session:
            return tuple(store.unknown_devices(session, since))

"""Polling the configured SNMP devices from the running collector.

One APScheduler job per device runs every ``snmp.interval_seconds`` with jitter; semaphores bound
how many polls run at once (devices whose last poll failed in a smaller pool of their own), each
poll has its own deadline and all share one ``SnmpEngine``. A poll's facts are stored with
``apply_poll`` in a worker thread (one transaction), then folded into the in-memory
:class:`~collector.sources.snmp.view.DeviceView`. A failing device records its named error and
delays nobody. Replicas sharing one store split the devices between them: each device is polled by
the replica holding its claim (``collector.store.devices.claim_poll``). Credentials are never
logged (their ``repr`` hides the secrets anyway).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from pysnmp.hlapi.v3arch.asyncio import SnmpEngine
from sqlalchemy.orm import Session, sessionmaker

from collector.metrics.instruments import CollectorMetrics
from collector.sources.scheduling import TAKEOVER_INTERVALS, start_device_schedule, unique_devices
from collector.sources.snmp.config import SnmpConfig, SnmpCredential, SnmpDevice
from collector.sources.snmp.poll import DevicePoll, Target, poll_device
from collector.sources.snmp.profiles import Profile, load_profiles
from collector.sources.snmp.session import Credentials
from collector.sources.snmp.store import PollOutcome, apply_poll
from collector.sources.snmp.view import DeviceIdentity, DeviceView
from collector.store.devices import claim_poll, ensure_device
from collector.store.models import Device

log = logging.getLogger(__name__)

FAILING_SHARE = 4
"""Devices whose last poll failed get 1/FAILING_SHARE of the poll slots, in a pool of their own: a
dead device holds its slot for a whole deadline, and many of them must not starve the rest."""
MAX_DEADLINE_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class Claim:
    """A device's row as the poll needs it, and whether this replica is the one to poll it."""

    device_id: int
    ours: bool
    failing: bool
    """The device's last poll (by any replica, before any restart) got no answer."""
    kind: str
    hostname: str


def credentials_of(credential: SnmpCredential) -> Credentials:
    return Credentials(
        version=credential.version,
        community=credential.community or "",
        user=credential.user or "",
        auth_protocol=credential.auth_protocol,
        auth_key=credential.auth_key or "",
        priv_protocol=credential.priv_protocol,
        priv_key=credential.priv_key or "",
    )


def store_address(device: SnmpDevice) -> str:
    """The device's key in the store: its address, with the port when not the standard one, so two
    agents behind one address (port forwards, proxies) stay two devices."""
    if device.port == 161:
        return device.address
    host = f"[{device.address}]" if ":" in device.address else device.address
    return f"{host}:{device.port}"


def identity_of(device: SnmpDevice, name: str, kind: str) -> DeviceIdentity:
    """How the device view names a configured device (``name`` and ``kind`` as resolved by the store)."""
    return DeviceIdentity(store_address(device), name, kind, device.location, device.group)


def device_deadline(config: SnmpConfig) -> float:
    """Seconds one device's whole poll may take: most of an interval, and never unbounded."""
    return min(0.8 * config.interval_seconds, MAX_DEADLINE_SECONDS)


def poll_failure(poll: DevicePoll) -> tuple[str, str] | None:
    """(kind, message) when the device did not answer at all, else None (part errors aside)."""
    if "system" in poll.facts:
        return None
    error = poll.errors.get("target") or poll.errors.get("system.scalars")
    if error is None:
        return "no_answer", "the device answered no system group"
    return error.kind, error.message


class SnmpPolling:
    """Owns the scheduler and the engine; ``start()`` and ``stop()`` run on the app's event loop."""

    name = "snmp"

    def __init__(
        self,
        config: SnmpConfig,
        sessions: sessionmaker[Session],
        view: DeviceView,
        metrics: CollectorMetrics | None = None,
        profiles: list[Profile] | None = None,
        poller_id: str | None = None,
    ) -> None:
        self.poller_id = poller_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        """This replica's name in the devices' poll claims."""
        self._takeover_after = timedelta(seconds=TAKEOVER_INTERVALS * config.interval_seconds)
        self._config = config
        self._sessions = sessions
        self._view = view
        self._metrics = metrics
        self._profiles = profiles if profiles is not None else load_profiles()
        self._scheduler: AsyncIOScheduler | None = None
        self._engine: SnmpEngine | None = None
        self._running: set[asyncio.Task[None]] = set()
        """Polls in flight, for ``stop()`` to cancel and wait for."""
        self._slots: asyncio.Semaphore | None = None
        self._failing_slots: asyncio.Semaphore | None = None

    async def start(self) -> None:
        self._engine = SnmpEngine()
        slots = self._config.max_concurrent_polls
        self._slots = asyncio.Semaphore(slots)
        self._failing_slots = asyncio.Semaphore(max(1, slots // FAILING_SHARE))
        skipped = None if self._metrics is None else self._metrics.poll_runs_skipped.labels("snmp").inc
        self._scheduler = start_device_schedule(
            self.poll_one,
            unique_devices(self._config.devices, store_address, "snmp"),
            source="snmp",
            action="poll",
            interval=self._config.interval_seconds,
            max_jitter=30.0,
            skipped=skipped,
        )
        log.info(
            "SNMP polling started: %d devices every %ss",
            len(self._config.devices),
            self._config.interval_seconds,
        )

    async def stop(self) -> None:
        """Stop scheduling, cancel the polls in flight and wait for them, then close the engine
        (closing it under a running poll makes pysnmp fail that poll with a traceback)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None

    async def poll_one(self, device: SnmpDevice) -> None:
        """Poll one device and record the outcome; never raises (a job's failure is logged here)."""
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            claim = await asyncio.to_thread(self._claim, device)
            if not claim.ours:
                self._view.forget(claim.device_id)  # another replica polls it and exports its metrics
                log.debug("SNMP device %s is polled by another replica", store_address(device))
                return
            slots = self._failing_slots if claim.failing else self._slots
            assert slots is not None
            async with slots:
                await self._poll(device, claim)
        except asyncio.CancelledError:
            if self._scheduler is None:  # stop() cancels the polls in flight: not a failure
                return
            raise
        except Exception as exc:  # a bug or the store being away must not stop the schedule
            log.warning("SNMP poll of %s failed: %s", store_address(device), exc.__class__.__name__)
        finally:
            self._running.discard(task)

    async def _poll(self, device: SnmpDevice, claim: Claim) -> None:
        config = self._config
        credential = config.credentials.get(device.credential)
        if credential is None:
            self._record_failure(device, claim, "config", f"no credential named {device.credential!r}")
            return
        target = Target(
            host=device.address,
            port=device.port,
            timeout=config.timeout_seconds,
            retries=config.retries,
            max_repetitions=config.max_repetitions,
            max_rows=config.max_rows,
        )
        poll = await poll_device(
            target, credentials_of(credential), self._profiles, device_deadline(config), engine=self._engine
        )
        failure = poll_failure(poll)
        if failure is not None:
            self._record_failure(device, claim, *failure)
            return
        polled_at = datetime.now(UTC)

        def store() -> tuple[PollOutcome, str]:
            with self._sessions.begin() as session:
                outcome = apply_poll(
                    session,
                    store_address(device),
                    device.kind,
                    device.name,
                    poll.facts,
                    polled_at,
                    location=device.location,
                    group=device.group,
                )
                kind = session.get_one(Device, outcome.device_id).kind
            return outcome, kind

        outcome, kind = await asyncio.to_thread(store)
        if self._metrics is not None:
            for change in outcome.changes:
                self._metrics.change_events.labels(change.category, change.kind).inc()
        system = poll.facts.get("system") or {}
        sys_name = system.get("name") if isinstance(system.get("name"), str) else None
        self._view.record_success(
            outcome.device_id,
            identity_of(device, device.name or sys_name or device.address, kind),
            at=polled_at.timestamp(),
            facts=poll.facts,
            part_errors={part: error.kind for part, error in poll.errors.items()},
            supply_empty_at={
                name: None if at is None else at.timestamp() for name, at in outcome.supply_empty_at.items()
            },
        )
        log.debug(
            "SNMP poll of %s: %s in %.2fs", store_address(device), ",".join(poll.profiles), poll.seconds
        )

    def _claim(self, device: SnmpDevice) -> Claim:
        """The device's row (created on its first poll) and whether this replica polls it now."""
        now = datetime.now(UTC)
        with self._sessions.begin() as session:
            device_id = ensure_device(
                session,
                store_address(device),
                device.kind,
                device.name,
                now,
                location=device.location,
                group=device.group,
            )
            row = session.get_one(Device, device_id)
            tried, answered = row.poll_claimed_at, row.facts_at
            ours = claim_poll(session, device_id, self.poller_id, now, self._takeover_after)
            failing = tried is not None and (answered is None or answered < tried)
            return Claim(device_id, ours, failing, row.kind, row.hostname)

    def _record_failure(self, device: SnmpDevice, claim: Claim, kind: str, message: str) -> None:
        known = self._view.get(claim.device_id)
        name = device.name or (known.identity.name if known else claim.hostname)
        self._view.record_failure(
            claim.device_id,
            identity_of(device, name, claim.kind),
            at=time.time(),
            error_kind=kind,
            error_message=message,
        )
        log.info("SNMP device %s did not answer: %s", store_address(device), kind)

"""The schedule every per-device job shares (SNMP polls, SSH backups): every ``interval`` with
jitter, the first run spread over a few seconds so start-up is no burst, and never two runs of one
device at once (a late run is coalesced, not queued)."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)
DeviceT = TypeVar("DeviceT")

FIRST_RUN_SPREAD_SECONDS = 5.0
"""The first runs start within this many seconds of start-up."""
TAKEOVER_INTERVALS = 2.5
"""A replica takes over a device whose owner has not claimed it for this many intervals
(``collector.store.devices.claim_poll``)."""


def add_device_job(
    scheduler: AsyncIOScheduler,
    func: Callable[..., Any],
    args: Sequence[Any],
    *,
    job_id: str,
    name: str,
    interval: float,
    max_jitter: float,
) -> None:
    """Schedule ``func(*args)`` for one device every ``interval`` seconds (jitter: a tenth of it,
    at most ``max_jitter``)."""
    first_run = datetime.now(UTC) + timedelta(seconds=random.uniform(0, FIRST_RUN_SPREAD_SECONDS))
    scheduler.add_job(
        func,
        IntervalTrigger(seconds=interval, jitter=min(interval * 0.1, max_jitter), timezone=UTC),
        args=list(args),
        id=job_id,
        name=name,
        next_run_time=first_run,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=int(interval),
    )


def count_skipped_runs(scheduler: AsyncIOScheduler, skipped: Callable[[], None]) -> None:
    """Call ``skipped()`` for every run the scheduler skips because the device's last one still
    runs: the sign that polls take longer than their interval (a backlog), worth an alert."""

    def on_skip(_event: JobSubmissionEvent) -> None:
        skipped()

    scheduler.add_listener(on_skip, EVENT_JOB_MAX_INSTANCES)


def unique_devices(
    devices: Sequence[DeviceT], address_of: Callable[[DeviceT], str], section: str
) -> dict[str, DeviceT]:
    """The configured devices by store address; one listed twice is worked once (and said so)."""
    unique: dict[str, DeviceT] = {}
    for index, device in enumerate(devices):
        address = address_of(device)
        if address in unique:
            log.warning("%s.devices[%d]: %s is listed twice; used once", section, index, address)
            continue
        unique[address] = device
    return unique


def start_device_schedule(
    func: Callable[[Any], Any],
    devices: Mapping[str, Any],
    *,
    source: str,
    action: str,
    interval: float,
    max_jitter: float,
    skipped: Callable[[], None] | None,
) -> AsyncIOScheduler:
    """A started scheduler running ``func(device)`` for each of ``devices`` (by store address) on
    the shared schedule, jobs named ``<source> <action> <address>``; ``skipped`` counts runs
    skipped for a backlog."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    for index, (address, device) in enumerate(devices.items()):
        add_device_job(
            scheduler,
            func,
            [device],
            job_id=f"{source}-{index}",
            name=f"{source} {action} {address}",
            interval=interval,
            max_jitter=max_jitter,
        )
    if skipped is not None:
        count_skipped_runs(scheduler, skipped)
    scheduler.start()
    return scheduler

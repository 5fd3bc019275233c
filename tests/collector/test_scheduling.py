"""The shared device schedule: a run that outlasts its interval makes the next ones skipped, and
each skip is counted (the backlog the DozorPollBacklog alert watches)."""

from __future__ import annotations

import asyncio

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from collector.sources import scheduling
from collector.sources.scheduling import add_device_job, count_skipped_runs


def test_runs_that_outlast_the_interval_are_skipped_and_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduling, "FIRST_RUN_SPREAD_SECONDS", 0.0)
    runs: list[str] = []
    skipped: list[None] = []

    async def slow(device: str) -> None:
        runs.append(device)
        await asyncio.sleep(2.5)

    async def fast(device: str) -> None:
        runs.append(device)

    async def main() -> None:
        scheduler = AsyncIOScheduler()
        count_skipped_runs(scheduler, lambda: skipped.append(None))
        add_device_job(scheduler, slow, ["slow"], job_id="slow", name="slow", interval=1.0, max_jitter=0.0)
        add_device_job(scheduler, fast, ["fast"], job_id="fast", name="fast", interval=1.0, max_jitter=0.0)
        scheduler.start()
        await asyncio.sleep(3.2)
        scheduler.shutdown(wait=False)

    asyncio.run(main())
    assert runs.count("fast") >= 3, "a slow device delays nobody"
    assert runs.count("slow") <= 2
    assert len(skipped) >= 1, "the slow device's overlapping runs were skipped and counted"

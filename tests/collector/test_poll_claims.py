"""Collector replicas sharing one store split the polled devices: a device sticks to the replica
that claimed it, another takes over only when the claim goes stale, and two replicas racing to
create or claim the same device end with one row and one winner (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector.store.devices import claim_poll, ensure_device
from collector.store.models import Device

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
TAKEOVER = timedelta(minutes=12)


def _claim(sessions: sessionmaker[Session], poller: str, at: datetime) -> bool:
    with sessions.begin() as session:
        device_id = ensure_device(session, "10.0.0.9", "switch", "sw-9", at)
        return claim_poll(session, device_id, poller, at, TAKEOVER)


def test_a_device_sticks_to_its_poller_until_the_claim_goes_stale(sessions: sessionmaker[Session]) -> None:
    assert _claim(sessions, "replica-a", NOW)
    assert not _claim(sessions, "replica-b", NOW + timedelta(seconds=1))
    assert _claim(sessions, "replica-a", NOW + timedelta(minutes=5)), "the owner keeps it"
    assert not _claim(sessions, "replica-b", NOW + timedelta(minutes=16)), "claim renewed at 5 min"
    assert _claim(sessions, "replica-b", NOW + timedelta(minutes=18)), "replica-a stopped: taken over"
    assert not _claim(sessions, "replica-a", NOW + timedelta(minutes=19)), "and not handed back"


def test_replicas_racing_on_a_new_device_make_one_row_and_one_winner(sessions: sessionmaker[Session]) -> None:
    replicas = [f"replica-{n}" for n in range(6)]
    start = threading.Barrier(len(replicas))
    won: dict[str, bool] = {}
    failures: list[BaseException] = []

    def race(poller: str) -> None:
        start.wait()
        try:
            won[poller] = _claim(sessions, poller, NOW)
        except BaseException as error:  # reported below, with the replica
            failures.append(error)

    threads = [threading.Thread(target=race, args=(poller,)) for poller in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not failures, failures
    assert sum(won.values()) == 1, won
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Device)) == 1
        (owner,) = [poller for poller, ours in won.items() if ours]
        assert session.scalars(select(Device.poll_claimed_by)).one() == owner

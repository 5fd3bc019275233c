"""The in-memory fleet view follows the store: full rebuilds and incremental merges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from agent.runner import inventory_hash
from collector.agents.fleet import Fleet, host_state_from_row
from collector.store.agents import enroll_agent
from collector.store.queries import fleet_rows
from collector.store.reports import apply_report
from tests import factories

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def test_fleet_rows_since_returns_only_recent_hosts(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for machine, seen in ((1, T0), (2, T0 + timedelta(minutes=10))):
            device_id, _ = enroll_agent(session, factories.machine_id(machine), f"PC{machine}", T0)
            inventory = factories.inventory(machine=machine, package_count=3)
            report = factories.report(
                machine=machine, inv=inventory, inventory_hash=inventory_hash(inventory)
            )
            apply_report(session, device_id, report, seen)
    with sessions() as session:
        assert {row.hostname for row in fleet_rows(session)} == {"OBLRADA-PC0001", "OBLRADA-PC0002"}
        recent = fleet_rows(session, seen_since=T0 + timedelta(minutes=5))
    assert [row.hostname for row in recent] == ["OBLRADA-PC0002"]
    state = host_state_from_row(**{name: getattr(recent[0], name) for name in recent[0].__struct_fields__})
    assert state.security is not None and state.hardware is not None and state.health is not None


def test_merge_keeps_the_fresher_state() -> None:
    fleet = Fleet()
    fleet.observe(1, factories.report(machine=1, seq=5), T0 + timedelta(minutes=2))
    stale = host_state_from_row(1, "OLD-NAME", factories.machine_id(1), T0, None, None, None, 0)
    fresh_other = host_state_from_row(2, "PC2", factories.machine_id(2), T0, None, None, None, 0)
    fleet.merge([stale, fresh_other])
    by_id = {state.device_id: state for state in fleet.hosts()}
    assert by_id[1].hostname == "OBLRADA-PC0001"
    assert by_id[2].hostname == "PC2"

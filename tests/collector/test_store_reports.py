"""``apply_report``: sequence numbers, inventory diffs into history, the software table, on both
databases."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session, sessionmaker

from agent.schema.report import Disk, Inventory, ProbeError, Report, SoftwarePackage
from collector.store.agents import enroll_agent
from collector.store.models import ChangeEvent, Device, InstalledSoftware
from collector.store.reports import ApplyOutcome, apply_report
from tests import factories

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
HASH_A, HASH_B = "a" * 64, "b" * 64


class Agent:
    """One enrolled PC and the reports it sends, each applied in its own transaction."""

    def __init__(self, sessions: sessionmaker[Session], machine: int = 1) -> None:
        self.sessions = sessions
        self.machine = machine
        self.seq = 0
        with sessions.begin() as session:
            self.device_id, _ = enroll_agent(
                session, factories.machine_id(machine), f"OBLRADA-PC{machine:04d}", NOW
            )

    def send(self, seq: int | None = None, at: datetime = NOW, **fields: Any) -> ApplyOutcome:
        self.seq = self.seq + 1 if seq is None else seq
        report = factories.report(machine=self.machine, seq=self.seq, at=at)
        report = msgspec.structs.replace(report, **fields)
        with self.sessions.begin() as session:
            return apply_report(session, self.device_id, report, at)

    def send_inventory(self, inventory: Inventory, inventory_hash: str = HASH_A) -> ApplyOutcome:
        return self.send(inventory=inventory, inventory_hash=inventory_hash)

    def device(self) -> Device:
        with self.sessions() as session:
            return session.get_one(Device, self.device_id)

    def events(self) -> list[ChangeEvent]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(ChangeEvent)
                    .where(ChangeEvent.device_id == self.device_id)
                    .order_by(ChangeEvent.id)
                )
            )

    def software_rows(self) -> dict[tuple[str, str, str | None], tuple[int, str | None]]:
        with self.sessions() as session:
            rows = session.execute(
                select(
                    InstalledSoftware.name,
                    InstalledSoftware.source,
                    InstalledSoftware.architecture,
                    InstalledSoftware.id,
                    InstalledSoftware.version,
                ).where(InstalledSoftware.device_id == self.device_id)
            ).all()
        return {(name, source, arch): (row_id, version) for name, source, arch, row_id, version in rows}


@pytest.fixture
def agent(sessions: sessionmaker[Session]) -> Agent:
    return Agent(sessions)


def with_hardware(inventory: Inventory, **fields: Any) -> Inventory:
    return msgspec.structs.replace(inventory, hardware=msgspec.structs.replace(inventory.hardware, **fields))


def test_sequence_numbers_duplicates_and_gaps(agent: Agent) -> None:
    assert agent.send(seq=1) == ApplyOutcome("accepted")
    assert agent.send(seq=1) == ApplyOutcome("duplicate")
    assert agent.send(seq=2).gap == 0
    assert agent.send(seq=6, at=NOW + timedelta(minutes=5)).gap == 3
    assert agent.send(seq=4).status == "duplicate"  # late, after a newer one: a replay
    device = agent.device()
    assert (device.last_seq, device.seq_gaps, device.reports_accepted) == (6, 3, 3)
    assert device.last_seen_at == NOW + timedelta(minutes=5)


def test_first_report_counts_no_gap_whatever_its_number(agent: Agent) -> None:
    assert agent.send(seq=41).gap == 0
    assert agent.device().seq_gaps == 0


def test_duplicate_changes_nothing(agent: Agent) -> None:
    agent.send(seq=1, inventory=factories.inventory(), inventory_hash=HASH_A)
    before = agent.device()
    replay = factories.inventory(firewall_on=False, package_count=10)
    outcome = agent.send(seq=1, at=NOW + timedelta(hours=1), inventory=replay, inventory_hash=HASH_B)
    assert outcome == ApplyOutcome("duplicate")
    after = agent.device()
    assert (after.facts, after.facts_hash, after.last_seen_at, after.health_at, after.reports_accepted) == (
        before.facts,
        before.facts_hash,
        before.last_seen_at,
        before.health_at,
        before.reports_accepted,
    )
    assert len(agent.events()) == 1 and len(agent.software_rows()) == 300


def test_unknown_device_is_an_error(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(NoResultFound):
        apply_report(session, 999, factories.report(), NOW)


def test_health_version_and_probe_errors_are_stored(agent: Agent) -> None:
    errors = [ProbeError(probe="hardware/disks", kind="missing_tool", message="smartctl not found")]
    agent.send(
        health=factories.health(cpu_percent=77.0),
        collected_at=NOW - timedelta(seconds=30),
        agent_version="0.2.0",
        probe_errors=errors,
    )
    device = agent.device()
    assert device.health is not None and device.health["cpu_percent"] == 77.0
    assert device.health_at == NOW - timedelta(seconds=30)  # the sample's time, as the agent took it
    assert device.agent_version == "0.2.0"
    assert device.probe_errors == [msgspec.to_builtins(error) for error in errors]


def test_health_reports_keep_the_inventory_probe_errors(agent: Agent) -> None:
    smart = ProbeError(probe="hardware.disks", kind="missing_tool", message="smartctl not found")
    sensors = ProbeError(probe="health.sensors", kind="permission", message="no access to /sys/class/hwmon")
    agent.send(inventory=factories.inventory(), inventory_hash=HASH_A, probe_errors=[smart])
    agent.send(health=factories.health(), probe_errors=[sensors])
    assert [error["probe"] for error in agent.device().probe_errors] == ["hardware.disks", "health.sensors"]
    agent.send(health=factories.health())
    assert [error["probe"] for error in agent.device().probe_errors] == ["hardware.disks"]
    agent.send(inventory_hash=HASH_A, health=None)
    assert agent.device().probe_errors == []


def test_future_sample_time_is_clamped_to_arrival(agent: Agent) -> None:
    agent.send(collected_at=NOW + timedelta(days=3))
    assert agent.device().health_at == NOW


def test_inventory_hash_alone_asks_for_the_inventory_when_unknown(agent: Agent) -> None:
    assert agent.send(inventory_hash=HASH_A).need_inventory  # nothing stored yet
    agent.send_inventory(factories.inventory(), HASH_A)
    assert agent.device().facts_hash == HASH_A
    assert not agent.send(inventory_hash=HASH_A).need_inventory
    assert agent.send(inventory_hash=HASH_B).need_inventory
    assert not agent.send().need_inventory  # health only: no claim about the inventory


def test_first_inventory_is_one_event_and_fills_the_software_table(agent: Agent) -> None:
    outcome = agent.send_inventory(factories.inventory(package_count=300))
    assert [(change.category, change.kind, change.subject) for change in outcome.changes] == [
        ("system", "added", "inventory")
    ]
    (event,) = agent.events()
    assert (event.source, event.summary, event.at) == ("agent", "Inventory first received", NOW)
    device = agent.device()
    assert device.facts is not None and device.facts["hardware"]["cpu"]["cores"] == 6
    assert device.facts_at == NOW
    assert len(agent.software_rows()) == 300


def test_package_install_remove_update_are_events_and_touch_only_those_rows(agent: Agent) -> None:
    packages = factories.packages(300)
    agent.send_inventory(factories.inventory(software=packages))
    before = agent.software_rows()

    updated = msgspec.structs.replace(packages[10], version="99.0")
    firefox = SoftwarePackage(name="Mozilla Firefox", source="registry", version="119.0", architecture="x64")
    new_list = [*packages[:10], updated, *packages[11:20], *packages[21:], firefox]
    outcome = agent.send_inventory(factories.inventory(software=new_list), HASH_B)

    by_kind = {change.kind: change for change in outcome.changes}
    assert len(outcome.changes) == 3
    assert by_kind["changed"].summary == f"Software {packages[10].name} updated 10.0.10 → 99.0"
    assert by_kind["added"].summary == "Software Mozilla Firefox installed: 119.0"
    gone = packages[20]
    assert by_kind["removed"].subject == f"software[{gone.name} ({gone.source}, {gone.architecture})]"
    assert [(event.category, event.kind) for event in agent.events()[1:]] == [
        (change.category, change.kind) for change in outcome.changes
    ]

    after = agent.software_rows()
    assert len(after) == 300
    key_updated = (updated.name, updated.source, updated.architecture)
    assert after[key_updated][1] == "99.0"
    assert (packages[20].name, packages[20].source, packages[20].architecture) not in after
    assert after[("Mozilla Firefox", "registry", "x64")][1] == "119.0"
    untouched = set(before) & set(after) - {key_updated}
    assert len(untouched) == 298 and all(before[key] == after[key] for key in untouched)


def test_software_rows_follow_duplicates_and_replacement_of_the_whole_list(agent: Agent) -> None:
    twice = SoftwarePackage(
        name="Microsoft Visual C++ 2015 Redistributable", source="registry", version="14.0"
    )
    agent.send_inventory(factories.inventory(software=[twice, twice, *factories.packages(3)]))
    with agent.sessions() as session:
        assert session.scalar(
            select(InstalledSoftware.id).where(InstalledSoftware.name == twice.name).limit(1)
        )
        names = session.scalars(
            select(InstalledSoftware.name).where(InstalledSoftware.device_id == agent.device_id)
        ).all()
    assert sorted(names).count(twice.name) == 2
    other = [SoftwarePackage(name="LibreOffice", source="registry", version="24.2")]
    agent.send_inventory(factories.inventory(software=other), HASH_B)
    assert list(agent.software_rows()) == [("LibreOffice", "registry", None)]


def test_ram_module_replaced_keeps_old_and_new_values(agent: Agent) -> None:
    agent.send_inventory(factories.inventory(modules=(("DIMM_A1", 8, "M471A1K43DB1"), ("DIMM_B1", 8, "X"))))
    outcome = agent.send_inventory(
        factories.inventory(modules=(("DIMM_A1", 16, "KF432C16BB1"), ("DIMM_B1", 8, "X"))), HASH_B
    )
    event = next(event for event in agent.events() if event.subject == "hardware.memory.modules[DIMM_A1]")
    assert (event.category, event.kind) == ("hardware", "changed")
    assert event.old_value["size_bytes"] == 8 * 2**30 and event.old_value["part_number"] == "M471A1K43DB1"
    assert event.new_value["size_bytes"] == 16 * 2**30 and event.new_value["part_number"] == "KF432C16BB1"
    assert (
        event.summary
        == "RAM module DIMM_A1 replaced: 8 GiB Samsung M471A1K43DB1 → 16 GiB Samsung KF432C16BB1"
    )
    assert {change.subject for change in outcome.changes} == {
        "hardware.memory.modules[DIMM_A1]",
        "hardware.memory.total_bytes",
    }


def test_disk_added(agent: Agent) -> None:
    inventory = factories.inventory()
    agent.send_inventory(inventory)
    second = Disk(name="\\\\.\\PHYSICALDRIVE1", size_bytes=2 * 10**12, model="WDC WD20EZAZ", serial="WD-77")
    outcome = agent.send_inventory(
        with_hardware(inventory, disks=[*inventory.hardware.disks, second]), HASH_B
    )
    (change,) = outcome.changes
    assert (change.category, change.kind, change.subject) == ("hardware", "added", "hardware.disks[WD-77]")
    assert agent.events()[-1].new_value == msgspec.to_builtins(second)


def test_firewall_off_and_antivirus_disabled(agent: Agent) -> None:
    agent.send_inventory(factories.inventory())
    outcome = agent.send_inventory(factories.inventory(firewall_on=False, antivirus_on=False), HASH_B)
    assert sorted(change.summary for change in outcome.changes) == [
        "Antivirus Windows Defender disabled",
        "Firewall profile domain turned off",
        "Firewall profile private turned off",
        "Firewall profile public turned off",
    ]
    assert {event.category for event in agent.events()[1:]} == {"security"}


def test_unknown_sections_produce_no_events_and_keep_the_old_facts(agent: Agent) -> None:
    full = factories.inventory()
    agent.send_inventory(full)
    facts_before = agent.device().facts
    partial = msgspec.structs.replace(
        with_hardware(full, disks=None, cpu=None, memory=None),
        software=None,
        security=msgspec.structs.replace(full.security, firewall=None, antivirus=None),
    )
    outcome = agent.send_inventory(partial, HASH_B)
    assert outcome.changes == []
    device = agent.device()
    assert device.facts == facts_before and device.facts_hash == HASH_B
    assert len(agent.software_rows()) == 300


def test_hostname_change_is_an_event(agent: Agent) -> None:
    agent.send()
    outcome = agent.send(hostname="OBLRADA-BUH-01")
    (change,) = outcome.changes
    assert (change.category, change.kind, change.subject) == ("system", "changed", "hostname")
    assert change.summary == "Hostname changed: OBLRADA-PC0001 → OBLRADA-BUH-01"
    assert agent.device().hostname == "OBLRADA-BUH-01"
    assert agent.events()[-1].old_value == "OBLRADA-PC0001"


def test_one_failed_report_in_a_batch_leaves_the_others(
    sessions: sessionmaker[Session], agent: Agent
) -> None:
    """The ingest writer's pattern: one transaction per batch, one savepoint per report."""
    other = Agent(sessions, machine=2)
    outcomes = []
    with sessions.begin() as session:
        for device_id, report in (
            (
                agent.device_id,
                factories.report(machine=1, seq=1, inv=factories.inventory(), inventory_hash=HASH_A),
            ),
            (999, factories.report(machine=3, seq=1)),
            (other.device_id, factories.report(machine=2, seq=1)),
            (agent.device_id, factories.report(machine=1, seq=1)),
        ):
            try:
                with session.begin_nested():
                    outcomes.append(apply_report(session, device_id, report, NOW).status)
            except NoResultFound:
                outcomes.append("error")
    assert outcomes == ["accepted", "error", "accepted", "duplicate"]
    assert agent.device().reports_accepted == 1 and other.device().reports_accepted == 1
    assert len(agent.software_rows()) == 300


def _race(engine: Engine, device_id: int, first: Report, second: Report) -> tuple[ApplyOutcome, ApplyOutcome]:
    """Two replicas apply a report each through their own connection; the first holds its
    transaction open until the second has had time to run into it."""
    started = threading.Event()

    def second_replica() -> ApplyOutcome:
        with Session(engine) as session, session.begin():
            started.set()
            return apply_report(session, device_id, second, NOW)

    with ThreadPoolExecutor(1) as pool:
        with Session(engine) as session, session.begin():
            first_outcome = apply_report(session, device_id, first, NOW)
            pending = pool.submit(second_replica)
            started.wait(10)
            time.sleep(0.3)
            waited = not pending.done()
        # committed: the second replica goes on
        assert waited, "the second replica should wait for the first one's commit"
        return first_outcome, pending.result(timeout=30)


def test_two_replicas_accept_the_same_report_once(engine: Engine, agent: Agent) -> None:
    report = factories.report(seq=1, inv=factories.inventory(), inventory_hash=HASH_A)
    first, second = _race(engine, agent.device_id, report, report)
    assert (first.status, second.status) == ("accepted", "duplicate")
    device = agent.device()
    assert (device.reports_accepted, device.last_seq) == (1, 1)
    assert len(agent.events()) == 1 and len(agent.software_rows()) == 300


def test_two_replicas_with_consecutive_reports_see_each_other(engine: Engine, agent: Agent) -> None:
    """The later report waits, then diffs against the facts the earlier one stored: no false gap,
    no change computed from stale facts."""
    agent.send(seq=1, inventory=factories.inventory(), inventory_hash=HASH_A)
    off = factories.report(seq=2, inv=factories.inventory(firewall_on=False), inventory_hash=HASH_B)
    still_off = factories.report(seq=3, inv=factories.inventory(firewall_on=False), inventory_hash=HASH_B)
    first, second = _race(engine, agent.device_id, off, still_off)
    assert (first.status, len(first.changes), first.gap) == ("accepted", 3, 0)
    assert (second.status, second.changes, second.gap) == ("accepted", [], 0)
    assert (agent.device().last_seq, agent.device().seq_gaps) == (3, 0)

"""The read views the API and the metrics rebuild use, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from sqlalchemy.orm import Session, sessionmaker

from agent.schema.report import SoftwarePackage
from collector.store import queries
from collector.store.agents import enroll_agent
from collector.store.reports import apply_report
from tests import factories

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OFFLINE_AFTER = timedelta(minutes=5)
SEVEN_ZIP = SoftwarePackage(
    name="7-Zip 23.01 (x64)", source="registry", version="23.01", publisher="Igor Pavlov"
)


@pytest.fixture
def fleet(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Three PCs: one fine, one with its firewall off and RDP on (seen an hour ago), one enrolled
    that never reported an inventory."""
    ids = {}
    with sessions.begin() as session:
        for machine, name in ((1, "OBLRADA-PC0001"), (2, "OBLRADA-PC0002"), (3, "OBLRADA-PC0003")):
            ids[name], _ = enroll_agent(session, factories.machine_id(machine), name, NOW - timedelta(days=1))
        fine = factories.inventory(machine=1, software=[*factories.packages(3), SEVEN_ZIP])
        exposed = factories.inventory(machine=2, firewall_on=False, software=[SEVEN_ZIP])
        exposed = msgspec.structs.replace(
            exposed, security=msgspec.structs.replace(exposed.security, rdp_enabled=True)
        )
        for name, machine, inventory, at in (
            ("OBLRADA-PC0001", 1, fine, NOW),
            ("OBLRADA-PC0002", 2, exposed, NOW - timedelta(hours=1)),
        ):
            apply_report(
                session, ids[name], factories.report(machine, inv=inventory, inventory_hash="a" * 64), at
            )
        apply_report(session, ids["OBLRADA-PC0003"], factories.report(3), NOW)
    with sessions.begin() as session:  # a later change on PC1: a package update
        updated = msgspec.structs.replace(SEVEN_ZIP, version="24.07")
        inventory = factories.inventory(machine=1, software=[*factories.packages(3), updated])
        report = factories.report(1, seq=2, inv=inventory, inventory_hash="b" * 64)
        apply_report(session, ids["OBLRADA-PC0001"], report, NOW + timedelta(minutes=1))
    return ids


def test_list_hosts(sessions: sessionmaker[Session], fleet: dict[str, int]) -> None:
    with sessions() as session:
        hosts = queries.list_hosts(session, NOW + timedelta(minutes=2), OFFLINE_AFTER)
    assert [host.hostname for host in hosts] == ["OBLRADA-PC0001", "OBLRADA-PC0002", "OBLRADA-PC0003"]
    fine, exposed, bare = hosts
    assert fine.id == fleet["OBLRADA-PC0001"] and fine.machine_id == factories.machine_id(1)
    assert (fine.online, exposed.online, bare.online) == (True, False, True)
    assert fine.os == "Microsoft Windows 10 Pro" and bare.os is None
    assert (fine.lifecycle, fine.agent_version) == ("accepted", "0.1.0")
    assert fine.security_problems == queries.SecurityProblems()
    assert exposed.security_problems == queries.SecurityProblems(firewall_off=3, exposures=["rdp_enabled"])
    assert bare.security_problems is None
    assert b'"online":true' in msgspec.json.encode(hosts)  # the API encodes the views as they are


def test_get_host(sessions: sessionmaker[Session], fleet: dict[str, int]) -> None:
    with sessions() as session:
        host = queries.get_host(session, fleet["OBLRADA-PC0001"], NOW + timedelta(minutes=2), OFFLINE_AFTER)
        assert queries.get_host(session, 999, NOW, OFFLINE_AFTER) is None
    assert host is not None
    assert (host.hostname, host.online, host.last_seen_at) == (
        "OBLRADA-PC0001",
        True,
        NOW + timedelta(minutes=1),
    )
    assert host.hardware is not None and host.hardware["cpu"]["cores"] == 6
    assert host.security is not None and host.security["firewall"][0]["enabled"] is True
    assert host.hotfixes == []
    assert host.health is not None and host.health["cpu_count"] == 12 and host.health_at is not None
    assert (host.reports_accepted, host.seq_gaps, host.last_seq, host.probe_errors) == (2, 0, 2, [])
    assert host.facts_at == NOW + timedelta(minutes=1)
    assert len(host.software) == 4
    assert (
        queries.SoftwareEntry(
            name="7-Zip 23.01 (x64)",
            version="24.07",
            publisher="Igor Pavlov",
            source="registry",
            architecture=None,
            install_date=None,
        )
        in host.software
    )


def test_software_catalogue(sessions: sessionmaker[Session], fleet: dict[str, int]) -> None:
    with sessions() as session:
        everything = queries.software_catalogue(session, None)
        zips = queries.software_catalogue(session, "7-zip")
        by_percent = queries.software_catalogue(session, "%")
    assert len(everything) == 5
    assert zips == [
        queries.CatalogueEntry(
            name="7-Zip 23.01 (x64)", version="23.01", publisher="Igor Pavlov", host_count=1
        ),
        queries.CatalogueEntry(
            name="7-Zip 23.01 (x64)", version="24.07", publisher="Igor Pavlov", host_count=1
        ),
    ]
    assert by_percent == []  # a literal substring, not a LIKE pattern


def test_list_changes(sessions: sessionmaker[Session], fleet: dict[str, int]) -> None:
    pc1 = fleet["OBLRADA-PC0001"]
    with sessions() as session:
        everything = queries.list_changes(session, None, None, None, 100)
        of_pc1 = queries.list_changes(session, pc1, None, None, 100)
        newest = queries.list_changes(session, None, None, None, 1)
        window = queries.list_changes(session, None, NOW - timedelta(hours=1), NOW, 100)
    assert len(everything) == 3  # two first inventories and one update
    assert [change.at for change in everything] == sorted((change.at for change in everything), reverse=True)
    update = everything[0]
    assert newest == [update]
    assert (update.device_id, update.hostname, update.source, update.category, update.kind) == (
        pc1,
        "OBLRADA-PC0001",
        "agent",
        "software",
        "changed",
    )
    assert update.summary == "Software 7-Zip 23.01 (x64) updated 23.01 → 24.07"
    assert update.old_value["version"] == "23.01" and update.new_value["version"] == "24.07"
    assert [change.summary for change in of_pc1] == [update.summary, "Inventory first received"]
    assert [change.hostname for change in window] == ["OBLRADA-PC0002"]  # since inclusive, until exclusive


def test_fleet_rows(sessions: sessionmaker[Session], fleet: dict[str, int]) -> None:
    with sessions() as session:
        rows = {row.hostname: row for row in queries.fleet_rows(session)}
    assert set(rows) == {"OBLRADA-PC0001", "OBLRADA-PC0002", "OBLRADA-PC0003"}
    pc2 = rows["OBLRADA-PC0002"]
    assert (pc2.device_id, pc2.machine_id, pc2.last_seen_at) == (
        fleet["OBLRADA-PC0002"],
        factories.machine_id(2),
        NOW - timedelta(hours=1),
    )
    assert pc2.facts is not None and set(pc2.facts) == {"hardware", "security"}
    assert pc2.facts["hardware"]["os"]["name"] == "Microsoft Windows 10 Pro"
    assert pc2.facts["security"]["rdp_enabled"] is True
    assert pc2.health is not None and pc2.probe_errors == 0 and pc2.agent_version == "0.1.0"
    assert rows["OBLRADA-PC0003"].facts is None

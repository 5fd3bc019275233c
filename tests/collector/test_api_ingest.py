"""Reports through the real HTTP API: sequence handling, inventory by reference, change history."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from sqlalchemy import delete

from agent.runner import inventory_hash
from agent.schema.report import Report, SoftwarePackage
from collector.store.models import Device
from tests import factories
from tests.collector.live_server import LiveCollector, make_config, run_collector
from tests.collector.test_api_bad_input import enroll, post


@pytest.fixture
def collector(db_url: str, tmp_path: Path) -> Iterator[LiveCollector]:
    with run_collector(make_config(tmp_path, db_url)) as live:
        yield live


def send(live: LiveCollector, token: str, report: Report) -> dict:
    answer = post(live, token, factories.encode(report))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_duplicates_are_acknowledged_but_stored_once(collector: LiveCollector) -> None:
    token = enroll(collector, 1)
    assert send(collector, token, factories.report(seq=1))["status"] == "accepted"
    assert send(collector, token, factories.report(seq=2))["status"] == "accepted"
    assert send(collector, token, factories.report(seq=2))["status"] == "duplicate"
    assert send(collector, token, factories.report(seq=1))["status"] == "duplicate"
    host = collector.admin().get("/api/v1/hosts/1").json()
    assert (host["last_seq"], host["reports_accepted"], host["seq_gaps"]) == (2, 2, 0)
    metrics = collector.client().get("/metrics").text
    assert "dozor_reports_duplicate_total 2.0" in metrics
    assert 'dozor_reports_accepted_total{content="health"} 2.0' in metrics


def test_inventory_by_reference(collector: LiveCollector) -> None:
    token = enroll(collector, 1)
    inventory = factories.inventory()
    digest = inventory_hash(inventory)
    assert send(collector, token, factories.report(seq=1, inventory_hash=digest))["need_inventory"] is True
    assert (
        send(collector, token, factories.report(seq=2, inv=inventory, inventory_hash=digest))[
            "need_inventory"
        ]
        is False
    )
    assert send(collector, token, factories.report(seq=3, inventory_hash=digest))["need_inventory"] is False
    assert send(collector, token, factories.report(seq=4, inventory_hash="f" * 64))["need_inventory"] is True


def test_package_and_ram_changes_become_events_with_old_and_new(collector: LiveCollector) -> None:
    token = enroll(collector, 1)
    before = factories.inventory(package_count=120)
    send(collector, token, factories.report(seq=1, inv=before, inventory_hash=inventory_hash(before)))

    software = list(before.software or ())
    removed = software.pop(5)
    updated_old = software[7]
    software[7] = msgspec.structs.replace(updated_old, version="99.0")
    software.append(SoftwarePackage(name="LibreOffice 24.8", version="24.8.2", source="registry"))
    after = factories.inventory(
        package_count=0,
        software=software,
        modules=(("DIMM_A1", 16, "KF432C16BB/16"), ("DIMM_B1", 8, "M471A1K43DB1")),
    )
    send(collector, token, factories.report(seq=2, inv=after, inventory_hash=inventory_hash(after)))

    events = collector.admin().get("/api/v1/hosts/1/changes").json()
    by_subject = {(event["category"], event["kind"], event["subject"]): event for event in events}

    def find(category: str, kind: str, needle: str) -> dict:
        matches = [
            event for key, event in by_subject.items() if key[:2] == (category, kind) and needle in key[2]
        ]
        assert len(matches) == 1, f"{category}/{kind} {needle!r} not found once in {sorted(by_subject)}"
        return matches[0]

    assert find("software", "removed", removed.name)["old_value"]["version"] == removed.version
    assert find("software", "added", "LibreOffice")["new_value"]["version"] == "24.8.2"
    update = find("software", "changed", updated_old.name)
    assert (update["old_value"]["version"], update["new_value"]["version"]) == (updated_old.version, "99.0")
    module = find("hardware", "changed", "DIMM_A1")
    assert module["old_value"]["size_bytes"] == 8 * 2**30
    assert module["new_value"]["size_bytes"] == 16 * 2**30
    assert module["new_value"]["part_number"] == "KF432C16BB/16"
    assert all(event["summary"] for event in events)

    fleet = collector.admin().get("/api/v1/changes").json()
    assert {event["id"] for event in events} <= {event["id"] for event in fleet}
    host = collector.admin().get("/api/v1/hosts/1").json()
    assert any(item["name"] == "LibreOffice 24.8" for item in host["software"])
    assert not any(item["name"] == removed.name for item in host["software"])


def test_firewall_off_and_antivirus_disabled_are_security_events(collector: LiveCollector) -> None:
    token = enroll(collector, 1)
    before = factories.inventory(package_count=3)
    send(collector, token, factories.report(seq=1, inv=before, inventory_hash=inventory_hash(before)))
    after = factories.inventory(package_count=3, firewall_on=False, antivirus_on=False)
    send(collector, token, factories.report(seq=2, inv=after, inventory_hash=inventory_hash(after)))
    events = collector.admin().get("/api/v1/hosts/1/changes").json()
    security = [event for event in events if event["category"] == "security"]
    assert sum("firewall" in event["subject"] for event in security) == 3
    assert any("antivirus" in event["subject"] for event in security)
    metrics = collector.client().get("/metrics").text
    assert 'dozor_host_firewall_enabled{host="OBLRADA-PC0001",host_id="1",profile="public"} 0.0' in metrics


def test_software_catalogue_counts_hosts(collector: LiveCollector) -> None:
    for machine in (1, 2):
        token = enroll(collector, machine)
        inventory = factories.inventory(machine=machine, package_count=10)
        send(
            collector,
            token,
            factories.report(machine=machine, seq=1, inv=inventory, inventory_hash=inventory_hash(inventory)),
        )
    catalogue = collector.admin().get("/api/v1/software", params={"name": "Package 0003"}).json()
    assert len(catalogue) == 1 and catalogue[0]["host_count"] == 2


def test_a_report_that_cannot_be_stored_fails_alone(collector: LiveCollector) -> None:
    """Device 2 vanishes from the store while its token is still cached: its report fails with 500,
    the others in flight are stored."""
    tokens = {machine: enroll(collector, machine) for machine in (1, 2, 3)}
    for machine, token in tokens.items():
        send(collector, token, factories.report(machine=machine, seq=1))
    with collector.runtime.sessions.begin() as session:
        session.execute(delete(Device).where(Device.machine_id == factories.machine_id(2)))

    async def deliver_together() -> dict[int, int]:
        async with httpx.AsyncClient(base_url=collector.url, timeout=30) as client:

            async def one(machine: int) -> int:
                answer = await client.post(
                    "/api/v1/reports",
                    content=factories.encode(factories.report(machine=machine, seq=2)),
                    headers={"Authorization": f"Bearer {tokens[machine]}", "Content-Encoding": "gzip"},
                )
                return answer.status_code

            codes = await asyncio.gather(*(one(machine) for machine in (1, 2, 3)))
            return dict(zip((1, 2, 3), codes, strict=True))

    assert asyncio.run(deliver_together()) == {1: 200, 2: 500, 3: 200}
    hosts = {host["hostname"]: host for host in collector.admin().get("/api/v1/hosts").json()}
    assert set(hosts) == {"OBLRADA-PC0001", "OBLRADA-PC0003"}
    for host in hosts.values():
        assert collector.admin().get(f"/api/v1/hosts/{host['id']}").json()["last_seq"] == 2

"""PCs imaged from one master share their MachineGuid: the SMBIOS UUID sent at enrollment keeps
two live ones apart (a clone conflict: two hosts, an event on each, a metric), while a PC that was
silent and comes back with another UUID had its board replaced (one host, kept history); and a
report of agent schema 1, recorded from a real agent, is still accepted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import factories
from tests.collector.live_server import LiveCollector, make_config, run_collector
from tests.collector.test_api_bad_input import post
from tests.conftest import FIXTURES

MASTER_GUID = factories.machine_id(7)
UUID_A = "4c4c4544-0042-3510-8052-b7c04f4e3332"
UUID_B = "4c4c4544-0042-3510-8052-b7c04f4e3333"


@pytest.fixture
def collector(db_url: str, tmp_path: Path) -> Iterator[LiveCollector]:
    with run_collector(make_config(tmp_path, db_url, "liveness: {offline_after_seconds: 600}\n")) as live:
        yield live


def enroll_pc(live: LiveCollector, hostname: str, hardware_uuid: str | None) -> tuple[int, str]:
    body = {"machine_id": MASTER_GUID, "hostname": hostname, "secret": live.runtime.enrollment_secret}
    if hardware_uuid is not None:
        body["hardware_uuid"] = hardware_uuid
    answer = live.client().post("/api/v1/enroll", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["device_id"], answer.json()["token"]


def report_as(live: LiveCollector, token: str, hostname: str, seq: int = 1) -> None:
    report = msgspec.structs.replace(factories.report(machine=7, seq=seq), hostname=hostname)
    answer = post(live, token, factories.encode(report))
    assert answer.status_code == 200, answer.text


def clone_gauge(live: LiveCollector) -> dict[str, float]:
    return {
        sample.labels["host"]: sample.value
        for family in text_string_to_metric_families(live.client().get("/metrics").text)
        if family.name == "dozor_host_clone_conflict"
        for sample in family.samples
    }


def test_two_live_pcs_from_one_image_are_two_hosts_flagged_as_clones(collector: LiveCollector) -> None:
    first, first_token = enroll_pc(collector, "BUH-01", UUID_A)
    report_as(collector, first_token, "BUH-01")
    second, second_token = enroll_pc(collector, "BUH-02", UUID_B)
    assert second != first, "a clone must not be merged into the PC it was imaged from"
    report_as(collector, second_token, "BUH-02")
    report_as(collector, first_token, "BUH-01", seq=2)  # both keep reporting, each to its own host

    admin = collector.admin()
    hosts = {host["hostname"]: host for host in admin.get("/api/v1/hosts").json()}
    assert set(hosts) == {"BUH-01", "BUH-02"}
    assert all(host["clone_conflict"] for host in hosts.values())
    detail = admin.get(f"/api/v1/hosts/{second}").json()
    assert (detail["clone_of"], detail["hardware_uuid"], detail["last_seq"]) == (first, UUID_B, 1)
    assert admin.get(f"/api/v1/hosts/{first}").json()["last_seq"] == 2
    for host, other in ((first, "BUH-02"), (second, "BUH-01")):
        events = [
            e for e in admin.get(f"/api/v1/hosts/{host}/changes").json() if e["subject"] == "clone_conflict"
        ]
        assert len(events) == 1 and other in events[0]["summary"]
        assert "Клон" in events[0]["new_value"]["summary_uk"]
    assert clone_gauge(collector) == {"BUH-01": 1.0, "BUH-02": 1.0}

    again, _ = enroll_pc(collector, "BUH-02", UUID_B)  # the clone's agent reinstalled: same host
    assert again == second


def test_the_same_pc_enrolling_again_or_without_a_uuid_stays_one_host(collector: LiveCollector) -> None:
    first, token = enroll_pc(collector, "KADRY-01", None)
    report_as(collector, token, "KADRY-01")
    assert enroll_pc(collector, "KADRY-01", UUID_A)[0] == first  # an upgraded agent adopts its host
    assert enroll_pc(collector, "KADRY-01", UUID_A)[0] == first
    assert enroll_pc(collector, "KADRY-01", None)[0] == first
    assert collector.admin().get(f"/api/v1/hosts/{first}").json()["hardware_uuid"] == UUID_A
    assert not any(clone_gauge(collector).values())


def test_a_silent_pc_back_with_a_new_board_keeps_its_host(db_url: str, tmp_path: Path) -> None:
    # Every PC counts as silent: the one seen last "1 second ago" is older than 0.01 s.
    config = make_config(tmp_path, db_url, "liveness: {offline_after_seconds: 0.01}\n")
    with run_collector(config) as live:
        first, token = enroll_pc(live, "ZAL-01", UUID_A)
        report_as(live, token, "ZAL-01")
        assert enroll_pc(live, "ZAL-01", UUID_B)[0] == first
        events = live.admin().get(f"/api/v1/hosts/{first}/changes").json()
        assert any(event["subject"] == "hardware_uuid" for event in events)
        assert live.admin().get(f"/api/v1/hosts/{first}").json()["clone_conflict"] is False


def test_a_recorded_schema_1_report_is_accepted(collector: LiveCollector) -> None:
    """Recorded from the agent as it was before schema 2 (``dozor-agent once --print``)."""
    recorded = json.loads((FIXTURES / "reports" / "v1-debian12-vm.json").read_text(encoding="utf-8"))
    assert recorded["schema_version"] == 1
    answer = collector.client().post(
        "/api/v1/enroll",
        json={
            "machine_id": recorded["machine_id"],
            "hostname": "vm",
            "secret": collector.runtime.enrollment_secret,
        },
    )
    token = answer.json()["token"]
    accepted = post(collector, token, json.dumps(recorded).encode(), encoding=None)
    assert accepted.status_code == 200, accepted.text
    host = collector.admin().get(f"/api/v1/hosts/{answer.json()['device_id']}").json()
    assert host["schema_version"] == 1
    assert host["windows11"]["status"] == "not_applicable"
    assert len(host["software"]) > 100

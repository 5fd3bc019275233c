"""``enrollment.require_approval``: a new PC's reports are stored but flagged until an administrator
approves it (API or command line); the approval is recorded with who and when."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector.cli import main as collector_main
from tests import factories
from tests.collector.live_server import LiveCollector, make_config, run_collector
from tests.collector.test_api_bad_input import enroll, post

APPROVAL = "enrollment: {require_approval: true}\n"


@pytest.fixture
def collector(db_url: str, tmp_path: Path) -> Iterator[LiveCollector]:
    with run_collector(make_config(tmp_path, db_url, APPROVAL)) as live:
        yield live


def pending_gauge(live: LiveCollector) -> dict[str, float]:
    return {
        sample.labels["host"]: sample.value
        for family in text_string_to_metric_families(live.client().get("/metrics").text)
        if family.name == "dozor_host_pending_approval"
        for sample in family.samples
    }


def pending(live: LiveCollector, host_id: int) -> bool:
    return live.admin().get(f"/api/v1/hosts/{host_id}").json()["pending_approval"]


def test_a_new_pc_reports_pending_until_approved_and_the_approval_is_recorded(
    collector: LiveCollector,
) -> None:
    token = enroll(collector, 1)
    assert post(collector, token, factories.encode(factories.report(machine=1, seq=1))).status_code == 200
    hosts = collector.admin().get("/api/v1/hosts").json()
    assert [(host["id"], host["pending_approval"]) for host in hosts] == [(1, True)]
    assert pending_gauge(collector) == {"OBLRADA-PC0001": 1.0}

    admin = collector.admin()
    assert admin.post("/api/v1/hosts/1/approve", json={}).json()["error"] == "invalid_body"
    assert admin.post("/api/v1/hosts/1/approve", json={"by": "  "}).status_code == 422
    assert admin.post("/api/v1/hosts/99/approve", json={"by": "o.koval"}).status_code == 404
    assert collector.client().post("/api/v1/hosts/1/approve", json={"by": "o.koval"}).status_code == 401
    answer = admin.post("/api/v1/hosts/1/approve", json={"by": "o.koval"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"device_id": 1, "approved_by": "o.koval"}
    assert not pending(collector, 1)
    assert pending_gauge(collector) == {"OBLRADA-PC0001": 0.0}
    again = admin.post("/api/v1/hosts/1/approve", json={"by": "o.koval"})
    assert (again.status_code, again.json()["error"]) == (409, "not_pending")

    events = admin.get("/api/v1/hosts/1/changes").json()
    approval = next(event for event in events if event["subject"] == "enrollment")
    assert approval["source"] == "admin"
    assert approval["summary"] == "Enrollment approved by o.koval"
    assert approval["new_value"]["summary_uk"] == "Підключення ПК схвалено (o.koval)"

    # The reinstalled agent of an approved PC enrolls again and stays approved; a new PC waits.
    token = enroll(collector, 1)
    assert post(collector, token, factories.encode(factories.report(machine=1, seq=1))).status_code == 200
    assert not pending(collector, 1)
    enroll(collector, 2)
    hosts = {
        host["hostname"]: host["pending_approval"] for host in collector.admin().get("/api/v1/hosts").json()
    }
    assert hosts == {"OBLRADA-PC0001": False, "PC2": True}


def test_without_require_approval_nothing_waits(db_url: str, tmp_path: Path) -> None:
    with run_collector(make_config(tmp_path, db_url)) as live:
        token = enroll(live, 1)
        assert post(live, token, factories.encode(factories.report(seq=1))).status_code == 200
        assert not pending(live, 1)
        assert live.admin().post("/api/v1/hosts/1/approve", json={"by": "x"}).status_code == 409


def test_approve_from_the_command_line(
    collector: LiveCollector, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = enroll(collector, 1)
    enroll(collector, 2)
    assert post(collector, token, factories.encode(factories.report(machine=1, seq=1))).status_code == 200
    assert pending_gauge(collector) == {"OBLRADA-PC0001": 1.0}
    config = tmp_path / "collector.yaml"
    url = collector.runtime.config.database.url
    config.write_text(f"database: {{url: '{url}'}}\ndata_dir: {tmp_path}\n{APPROVAL}", encoding="utf-8")

    assert collector_main(["hosts", "--config", str(config), "list", "--pending"]) == 0
    listed = capsys.readouterr().out
    assert "OBLRADA-PC0001" in listed and "PC2" in listed and "pending approval" in listed
    assert collector_main(["hosts", "--config", str(config), "approve", "1", "--by", "o.koval"]) == 0
    assert "host 1 approved by o.koval" in capsys.readouterr().out
    assert collector_main(["hosts", "--config", str(config), "approve", "1"]) == 1
    assert "not waiting for approval" in capsys.readouterr().err
    assert collector_main(["hosts", "--config", str(config), "approve", "77"]) == 1

    # The running collector learns it from the store with the PC's next report.
    assert post(collector, token, factories.encode(factories.report(machine=1, seq=2))).status_code == 200
    approved = pending_gauge(collector)
    assert approved == {"OBLRADA-PC0001": 0.0}, approved
    change = next(
        event
        for event in collector.admin().get("/api/v1/hosts/1/changes").json()
        if event["subject"] == "enrollment"
    )
    assert change["summary"] == "Enrollment approved by o.koval (command line)"

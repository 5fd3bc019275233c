"""One lifecycle for every long-running part: the runner starts services in order, stops them in
reverse, and a service that fails to start is logged by name while the others run."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from collector.runtime import build_runtime, build_services
from collector.services import ServiceRunner
from tests import factories
from tests.collector.live_server import make_config, run_collector
from tests.collector.test_api_bad_input import enroll, post


class Recording:
    """A service that notes its calls in a shared journal, and fails where told to."""

    def __init__(self, name: str, journal: list[str], fail_on: str | None = None) -> None:
        self.name = name
        self._journal = journal
        self._fail_on = fail_on

    async def start(self) -> None:
        self._journal.append(f"start {self.name}")
        if self._fail_on == "start":
            raise OSError("port 162 is in use")

    async def stop(self) -> None:
        self._journal.append(f"stop {self.name}")
        if self._fail_on == "stop":
            raise RuntimeError("scheduler already gone")


def test_a_service_that_fails_to_start_is_logged_by_name_and_the_others_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal: list[str] = []
    runner = ServiceRunner(
        [Recording("ingest", journal), Recording("snmp", journal, fail_on="start"), Recording("ssh", journal)]
    )
    with caplog.at_level(logging.INFO, logger="collector.services"):
        asyncio.run(runner.start())
    assert journal == ["start ingest", "start snmp", "start ssh"]
    assert "service snmp failed to start: OSError: port 162 is in use" in caplog.text
    assert "services running: ingest, ssh" in caplog.text
    states = {health.name: (health.state, health.error) for health in runner.health()}
    assert states == {
        "ingest": ("running", None),
        "snmp": ("failed", "OSError: port 162 is in use"),
        "ssh": ("running", None),
    }

    asyncio.run(runner.stop())
    assert journal[3:] == ["stop ssh", "stop ingest"], "reverse order, and the failed one is not stopped"
    assert [health.state for health in runner.health()] == ["stopped", "failed", "stopped"]


def test_a_failing_stop_does_not_keep_the_rest_running(caplog: pytest.LogCaptureFixture) -> None:
    journal: list[str] = []
    runner = ServiceRunner([Recording("ingest", journal), Recording("digest", journal, fail_on="stop")])
    asyncio.run(runner.start())
    asyncio.run(runner.stop())
    assert journal == ["start ingest", "start digest", "stop digest", "stop ingest"]
    assert "service digest failed to stop: RuntimeError: scheduler already gone" in caplog.text


def test_service_names_are_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        ServiceRunner([Recording("snmp", []), Recording("snmp", [])])


def test_the_runtime_registers_what_the_config_asks_for_in_start_order(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'dozor.db'}"
    bare = build_runtime(make_config(tmp_path / "bare", db))
    assert [service.name for service in build_services(bare)] == ["fleet-sync", "ingest"]
    everything = build_runtime(
        make_config(
            tmp_path / "all",
            db,
            "local_agent: true\n"
            "digest: {enabled: true, smtp: {host: 127.0.0.1}, sender: d@example.org,"
            " recipients: [chief@example.org]}\n"
            "snmp: {credentials: {lan: {version: '2c', community: public}},"
            " devices: [{address: 127.0.0.1, port: 1161, credential: lan}]}\n"
            "ssh: {credentials: {admin: {username: backup, password: secret}},"
            " devices: [{address: 127.0.0.1, port: 2222, platform: cisco_ios, credential: admin}]}\n"
            "discovery: {auto_accept: false}\n",
        )
    )
    assert everything.services.names == [
        "fleet-sync",
        "ingest",
        "local-agent",
        "digest",
        "snmp",
        "ssh",
        "discovery",
    ]


def test_a_real_collector_keeps_taking_reports_when_a_service_cannot_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The local agent cannot write its config (its folder is a file): the collector logs that
    service by name and still enrolls agents, stores reports and serves metrics."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "agent").write_text("not a folder", encoding="utf-8")
    config = make_config(data_dir, f"sqlite:///{tmp_path / 'dozor.db'}", "local_agent: true\n")
    with caplog.at_level(logging.INFO, logger="collector.services"), run_collector(config) as live:
        token = enroll(live, 1)
        assert post(live, token, factories.encode(factories.report(seq=1))).status_code == 200
        assert "dozor_host_up" in live.client().get("/metrics").text
        states = {health.name: health.state for health in live.runtime.services.health()}
    assert states == {"fleet-sync": "running", "ingest": "running", "local-agent": "failed"}
    assert "service local-agent failed to start: FileExistsError" in caplog.text

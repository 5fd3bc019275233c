"""A collector outage loses nothing: with the collector stopped for a minute while the agent keeps
reporting every second, every report produced meanwhile arrives after the restart, in order, once."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from agent.config import parse_config
from agent.runner import collect_health
from agent.service import Agent
from agent.transport import Backoff
from tests import factories
from tests.collector.live_server import LiveCollector, make_config, run_collector

OUTAGE_SECONDS = 60


def host(live: LiveCollector) -> dict:
    hosts = live.admin().get("/api/v1/hosts").json()
    return live.admin().get(f"/api/v1/hosts/{hosts[0]['id']}").json() if hosts else {}


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.25)


@pytest.mark.slow
def test_reports_made_during_an_outage_arrive_in_order_once(tmp_path: Path) -> None:
    collector_config = make_config(tmp_path / "collector", f"sqlite:///{tmp_path / 'dozor.sqlite3'}")
    host_, port = collector_config.host_port
    agent_config = parse_config(
        f"collector_url: http://{host_}:{port}\n"
        f"enrollment_secret: {collector_config.auth.enrollment_secret}\n"
        f"state_dir: {tmp_path / 'agent'}\n"
        "health_interval: 1\ninventory_interval: 3600\n",
        tmp_path,
    )
    agent = Agent(
        agent_config,
        health_collector=collect_health,
        inventory_collector=lambda: (factories.inventory(package_count=50), []),
        backoff=Backoff(first=0.2, cap=2.0),
    )
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,), daemon=True)

    with ExitStack() as first_run:
        live = first_run.enter_context(run_collector(collector_config))
        runner.start()
        wait_until(lambda: host(live).get("reports_accepted", 0) >= 3, 60, "the first reports")
    produced_before_outage = agent.state.next_seq - 1

    time.sleep(OUTAGE_SECONDS)
    produced_during_outage = agent.state.next_seq - 1 - produced_before_outage
    assert produced_during_outage >= OUTAGE_SECONDS - 5
    assert len(agent.spool) >= produced_during_outage - 1

    with run_collector(collector_config) as live:
        wait_until(lambda: len(agent.spool) == 0, 90, "the spool to drain after the restart")
        stop.set()
        runner.join(timeout=30)
        produced = agent.state.next_seq - 1
        left = len(agent.spool)  # at most the one report made between the drain and the stop
        stored = host(live)
        metrics = httpx.get(f"{live.url}/metrics", timeout=10).text

    assert left <= 1
    assert stored["last_seq"] == produced - left
    assert stored["reports_accepted"] == produced - left, "a report was lost or stored twice"
    assert stored["seq_gaps"] == 0
    assert "dozor_report_sequence_gaps_total 0.0" in metrics

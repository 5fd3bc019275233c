"""``enrollment.require_approval`` end to end: a real ``dozor-collector serve``, a real ``dozor-agent
run`` installed with the enrollment secret, and an administrator approving from the command line.

The PC's reports are stored (and flagged) from the start; the secret leaves the PC's disk once it
enrolled; the approval reaches the running collector's metrics with the PC's next report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.collector.live_server import wait_for
from tests.processes import run_agent, served_collector


def pending_gauge(url: str) -> list[float]:
    return [
        sample.value
        for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=10).text)
        if family.name == "dozor_host_pending_approval"
        for sample in family.samples
    ]


@pytest.mark.slow
def test_a_pc_waits_for_approval_and_keeps_reporting(tmp_path: Path) -> None:
    data_dir = tmp_path / "dozor-data"
    config = tmp_path / "collector.yaml"
    config.write_text("enrollment: {require_approval: true}\n", encoding="utf-8")
    with served_collector(data_dir, tmp_path / "collector.log", "--config", str(config)) as url:
        secret = (data_dir / "enrollment.secret").read_text().strip()
        token = (data_dir / "admin.token").read_text().strip()
        admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        agent_config = tmp_path / "agent.yaml"
        agent_config.write_text(
            f"collector_url: {url}\nenrollment_secret: {secret}\nstate_dir: state\nhealth_interval: 1\n"
        )
        agent = run_agent(agent_config, tmp_path / "agent.log")
        try:
            wait_for(lambda: pending_gauge(url) == [1.0], 60, "the PC's first report, flagged")
            (host,) = admin.get("/api/v1/hosts").json()
            assert host["pending_approval"] is True
            assert secret not in agent_config.read_text(), "the secret stays on the PC after enrolling"

            approve = subprocess.run(
                [sys.executable, "-m", "collector", "hosts", "--config", str(config), "--data-dir",
                 str(data_dir), "approve", str(host["id"]), "--by", "o.koval"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert approve.returncode == 0, approve.stderr
            wait_for(lambda: pending_gauge(url) == [0.0], 30, "the approval in /metrics")
            assert admin.get(f"/api/v1/hosts/{host['id']}").json()["pending_approval"] is False
            history = [event["summary"] for event in admin.get(f"/api/v1/hosts/{host['id']}/changes").json()]
            assert "Enrollment approved by o.koval (command line)" in history
        finally:
            assert agent.stop() == 0, agent.output()

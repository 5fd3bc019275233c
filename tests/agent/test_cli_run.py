"""``dozor-agent run``: the service loop against a real HTTP peer on 127.0.0.1.

In-process tests drive ``Agent.run(stop)`` with small, predictable collectors; the subprocess tests
run the real command (real probes) and stop it with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

from agent import __main__ as cli
from agent import service
from agent.config import AgentConfig
from agent.runner import inventory_hash
from agent.schema.report import Hardware, Health, Inventory, ProbeError, Security, SystemInfo
from agent.service import Agent
from agent.spool import Spool
from agent.state import Credentials, State
from agent.transport import ENROLL_PATH, REPORTS_PATH, Backoff
from tests.agent.test_transport import Answer, Peer, Received, closed_port
from tests.conftest import REPO_ROOT

HEALTH = Health(
    boot_time=datetime(2026, 1, 1, tzinfo=UTC),
    cpu_percent=1.0,
    cpu_count=2,
    memory_total_bytes=8 << 30,
    memory_available_bytes=4 << 30,
    swap_total_bytes=0,
    swap_used_bytes=0,
)


class FakeMachine:
    """Collectors whose inventory the test can change."""

    def __init__(self) -> None:
        self.hostname = "pc-1"
        self.inventory_runs = 0

    def health(self) -> tuple[Health | None, list[ProbeError]]:
        return HEALTH, []

    def inventory(self) -> tuple[Inventory, list[ProbeError]]:
        self.inventory_runs += 1
        hardware = Hardware(system=SystemInfo(hostname=self.hostname))
        return Inventory(hardware=hardware, security=Security()), [
            ProbeError(probe="software.packages", kind="missing_tool", message="dpkg-query is not installed")
        ]


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer() as server:
        yield server


@pytest.fixture
def machine() -> FakeMachine:
    return FakeMachine()


@pytest.fixture(autouse=True)
def fast_credentials_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "CREDENTIALS_POLL_SECONDS", 0.05)


def make_agent(url: str, state_dir: Path, machine: FakeMachine, **overrides: Any) -> Agent:
    settings: dict[str, Any] = {
        "collector_url": url,
        "enrollment_secret": "enrollment-secret",
        "state_dir": state_dir,
        "health_interval": 1,
        "inventory_interval": 3600,
        "request_timeout": 5,
        **overrides,
    }
    return Agent(
        AgentConfig(**settings),
        health_collector=machine.health,
        inventory_collector=machine.inventory,
        backoff=Backoff(first=0.01, cap=0.05),
    )


class Running:
    """An agent's run(stop) in a thread, stopped on exit."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.stop = threading.Event()
        self.thread = threading.Thread(target=agent.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the agent did not stop"


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def kinds(reports: list[dict[str, Any]]) -> list[str]:
    """health / full / ref for each report."""
    return ["full" if "inventory" in r else "ref" if "inventory_hash" in r else "health" for r in reports]


def test_enrolls_then_sends_health_and_full_inventory_in_seq_order(
    peer: Peer, machine: FakeMachine, tmp_path: Path
) -> None:
    with Running(make_agent(peer.url, tmp_path, machine)):
        wait_for(lambda: len(peer.reports()) >= 4)
    assert peer.received[0].path == ENROLL_PATH
    assert {item.headers["Authorization"] for item in peer.received[1:]} == {"Bearer token-of-device-1"}
    reports = peer.reports()
    assert [r["seq"] for r in reports] == list(range(1, len(reports) + 1))
    assert kinds(reports)[:3] == ["health", "full", "health"]
    full = reports[1]
    assert len(full["inventory_hash"]) == 64
    assert full["probe_errors"][0]["probe"] == "software.packages"
    assert os.listdir(tmp_path / "spool") == []
    assert State(tmp_path).credentials() == Credentials(device_id=1, token="token-of-device-1")


def test_unchanged_inventory_goes_by_reference_after_a_restart(
    peer: Peer, machine: FakeMachine, tmp_path: Path
) -> None:
    with Running(make_agent(peer.url, tmp_path, machine)):
        wait_for(lambda: "full" in kinds(peer.reports()))
    with Running(make_agent(peer.url, tmp_path, machine)):
        wait_for(lambda: "ref" in kinds(peer.reports()))
    machine.hostname = "pc-1-renamed"
    with Running(make_agent(peer.url, tmp_path, machine)):
        wait_for(lambda: kinds(peer.reports()).count("full") == 2)
    reports = peer.reports()
    seqs = [r["seq"] for r in reports]
    assert seqs == sorted(set(seqs)), "a seq was reused across restarts"
    full, ref, changed = (r for r in reports if "inventory_hash" in r)
    assert ref["inventory_hash"] == full["inventory_hash"] != changed["inventory_hash"]
    assert [item.path for item in peer.received].count(ENROLL_PATH) == 1


def test_need_inventory_brings_the_full_inventory_at_once(
    peer: Peer, machine: FakeMachine, tmp_path: Path
) -> None:
    asked: list[int] = []

    def ask_once_for_the_inventory(received: Received) -> Answer | None:
        report = Peer.decode(received)
        if report and "inventory_hash" in report and "inventory" not in report and not asked:
            asked.append(report["seq"])
            return Answer(200, {"status": "accepted", "need_inventory": True})
        return None

    # What an earlier run left: the collector was sent this very inventory (and has since lost it).
    State(tmp_path).sent_full_inventory(inventory_hash(machine.inventory()[0]), seq=0)
    machine.inventory_runs = 0
    peer.respond = ask_once_for_the_inventory
    with Running(make_agent(peer.url, tmp_path, machine)):
        wait_for(lambda: "full" in kinds(peer.reports()))
    assert asked
    assert machine.inventory_runs == 2  # at start, then at once: not an hour later
    assert kinds(peer.reports()).index("full") > kinds(peer.reports()).index("ref")


def test_collector_down_then_up_loses_nothing_and_keeps_the_order(
    peer: Peer, machine: FakeMachine, tmp_path: Path
) -> None:
    down = make_agent(f"http://127.0.0.1:{closed_port()}", tmp_path, machine)
    with Running(down):
        wait_for(lambda: len(down.spool) >= 4)
    peer.answer(REPORTS_PATH, Answer(503, {"error": "busy", "detail": "later"}), Answer(500))
    with Running(make_agent(peer.url, tmp_path, machine)) as up:
        wait_for(lambda: len(up.agent.spool) == 0 and len(peer.reports()) >= 8)
    seqs = [r["seq"] for r in peer.reports()]
    assert seqs[:3] == [1, 1, 1]  # answered 503, 500, then taken
    assert seqs[2:] == list(range(1, len(seqs) - 1))


def test_rejected_report_is_set_aside_and_the_next_ones_go(
    peer: Peer, machine: FakeMachine, tmp_path: Path
) -> None:
    peer.answer(REPORTS_PATH, Answer(422, {"error": "invalid_report", "detail": "test"}))
    with Running(make_agent(peer.url, tmp_path, machine)):
        wait_for(lambda: len(peer.reports()) >= 3)
    assert [r["seq"] for r in peer.reports()][:3] == [1, 2, 3]
    assert os.listdir(tmp_path / "spool" / "rejected") == [f"{1:020d}.json.gz"]


def test_revoked_token_stops_sending_until_the_agent_is_enrolled_again(
    peer: Peer, machine: FakeMachine, tmp_path: Path
) -> None:
    peer.answer(REPORTS_PATH, Answer(401, {"error": "revoked_token", "detail": "revoked"}))
    with Running(make_agent(peer.url, tmp_path, machine)) as running:
        wait_for(lambda: len(running.agent.spool) >= 4)
        assert len(peer.reports()) == 1  # the one refused: no new attempts, no automatic re-enrollment
        assert [item.path for item in peer.received].count(ENROLL_PATH) == 1
        State(tmp_path).save_credentials(Credentials(device_id=1, token="new-token"))  # `dozor-agent enroll`
        wait_for(lambda: len(running.agent.spool) == 0)
    assert peer.received[-1].headers["Authorization"] == "Bearer new-token"
    assert [r["seq"] for r in peer.reports()[1:]][:4] == [1, 2, 3, 4]


def test_without_secret_or_credentials_reports_wait_in_the_spool(
    peer: Peer, machine: FakeMachine, tmp_path: Path
) -> None:
    with Running(make_agent(peer.url, tmp_path, machine, enrollment_secret=None)) as running:
        wait_for(lambda: len(running.agent.spool) >= 3)
        assert peer.received == []
        State(tmp_path).save_credentials(Credentials(device_id=3, token="by-hand"))
        wait_for(lambda: len(running.agent.spool) == 0)
    assert [r["seq"] for r in peer.reports()][:3] == [1, 2, 3]


def test_spool_limit_drops_are_counted_in_the_state(machine: FakeMachine, tmp_path: Path) -> None:
    backlog = Spool(tmp_path / "spool", max_bytes=1 << 30, max_age=3600)
    for seq in (1, 2, 3):
        backlog.put(seq, b'{"pad": "%s"}' % os.urandom(50_000).hex().encode())  # ~50 KB gzip'ed each
    agent = make_agent(f"http://127.0.0.1:{closed_port()}", tmp_path, machine, spool_max_bytes=64 * 1024)
    agent.step()
    assert agent.spool.total_bytes <= 64 * 1024
    assert agent.state.dropped_reports == 2
    assert State(tmp_path).dropped_reports == agent.state.dropped_reports
    assert agent.spool.last_seq == 5  # health 4 and inventory 5 numbered on from the backlog


# ---------------------------------------------------------------- the real command


def write_config(path: Path, url: str, state_dir: Path, **extra: Any) -> Path:
    document = {"collector_url": url, "enrollment_secret": "enrollment-secret", "state_dir": str(state_dir)}
    path.write_text(yaml.safe_dump({**document, **extra}))
    return path


def start_agent(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "--config", str(config)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop_agent(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    assert "Traceback" not in output, output
    return output


@pytest.mark.slow
def test_run_command_reports_this_machine_and_stops_cleanly_on_sigterm(peer: Peer, tmp_path: Path) -> None:
    config = write_config(tmp_path / "agent.yaml", peer.url, tmp_path / "state")
    process = start_agent(config)
    try:
        wait_for(lambda: "full" in kinds(peer.reports()), timeout=120)
        # Idle between reports at the default intervals: little memory, (almost) no CPU.
        watched = psutil.Process(process.pid)
        before = watched.cpu_times()
        time.sleep(5)
        after = watched.cpu_times()
        busy = (after.user - before.user) + (after.system - before.system)
        assert busy / 5 <= 0.005, f"idle agent used {busy / 5:.1%} CPU"
        assert watched.memory_info().rss <= 35 * 1024 * 1024
    finally:
        output = stop_agent(process)
    assert "agent stopped" in output
    reports = peer.reports()
    assert kinds(reports)[:2] == ["health", "full"]
    assert reports[1]["inventory"]["hardware"]["cpu"]["model"]

    process = start_agent(config)  # restarted: numbering goes on, inventory by reference
    try:
        wait_for(lambda: len(peer.reports()) >= 4, timeout=120)
    finally:
        stop_agent(process)
    assert [r["seq"] for r in peer.reports()] == [1, 2, 3, 4]
    assert kinds(peer.reports())[2:] == ["health", "ref"]


def test_run_against_an_unreachable_collector_keeps_running_and_spooling(tmp_path: Path) -> None:
    config = write_config(tmp_path / "agent.yaml", f"http://127.0.0.1:{closed_port()}", tmp_path / "state")
    process = start_agent(config)
    try:
        wait_for(lambda: len(list(tmp_path.glob("state/spool/*.json.gz"))) >= 2, timeout=120)
        assert process.poll() is None
    finally:
        output = stop_agent(process)
    assert "enrollment with http://127.0.0.1" in output
    assert "connection refused" in output


def test_run_exits_1_and_logs_why_when_the_loop_fails(
    machine: FakeMachine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """systemd restarts the agent after a failure (Restart=always): it must exit, not hang."""
    def failing_agent(config: AgentConfig, config_file: Path) -> Agent:
        agent = make_agent(config.collector_url, tmp_path, machine)

        def step() -> None:
            raise RuntimeError("the disk is on fire")

        agent.step = step  # type: ignore[method-assign]
        return agent

    monkeypatch.setattr(cli, "Agent", failing_agent)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:  # _run installs its own signal handlers
        config = AgentConfig(collector_url=f"http://127.0.0.1:{closed_port()}")
        code = cli._run(config, tmp_path / "agent.yaml")
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert code == 1
    assert "the agent's loop failed" in caplog.text and "the disk is on fire" in caplog.text

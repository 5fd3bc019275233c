"""The Windows service's logic on Linux, with only its Windows calls (service status, Event Log)
stubbed: start, stop within the deadline with running tools ended, an exit code after a failure,
the log file and its rotation."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psutil
import pytest

from agent import service, windows_service
from agent.config import AgentConfig
from agent.logs import handlers
from agent.probes import Probe
from agent.probes.base import run_command
from agent.processes import CHILDREN
from agent.runner import collect_inventory
from agent.schema.report import Health, ProbeError
from agent.service import Agent
from agent.transport import Backoff
from agent.windows_service import (
    EXIT_CONFIG,
    EXIT_LOOP_FAILED,
    EXIT_STATE_DIR,
    ServiceFailed,
    ServiceShell,
    Status,
)
from tests.agent.test_cli_run import HEALTH, FakeMachine, kinds, wait_for
from tests.agent.test_processes import alive
from tests.agent.test_transport import Peer
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Linux stands in for Windows here")


class StubHost:
    """Records what the shell tells Windows."""

    def __init__(self) -> None:
        self.statuses: list[tuple[Status, int]] = []
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def report_status(self, status: Status, wait_hint_ms: int = 0) -> None:
        with self._lock:
            self.statuses.append((status, wait_hint_ms))

    def event_log(self, kind: str, message: str) -> None:
        with self._lock:
            self.events.append((kind, message))

    def states(self) -> list[Status]:
        """The statuses in order, repeats folded."""
        with self._lock:
            folded = [status for status, _ in self.statuses]
        return [status for index, status in enumerate(folded) if index == 0 or folded[index - 1] != status]

    def errors(self) -> list[str]:
        with self._lock:
            return [message for kind, message in self.events if kind == "error"]


@pytest.fixture(autouse=True)
def own_logging() -> Iterator[None]:
    """The shell configures the process's logging, as a service must: give pytest's back after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:], root.level = saved
    CHILDREN.reopen()


@pytest.fixture(autouse=True)
def fast_credentials_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "CREDENTIALS_POLL_SECONDS", 0.05)


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer() as server:
        yield server


def config_file(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"collector_url: {url}\nenrollment_secret: the-secret\nstate_dir: state\nhealth_interval: 1\n"
    )
    return path


def agents_with(**collectors: Any) -> Callable[[AgentConfig, Path], Agent]:
    def make(config: AgentConfig, config_file: Path) -> Agent:
        machine = FakeMachine()
        chosen = {"health_collector": machine.health, "inventory_collector": machine.inventory, **collectors}
        return Agent(config, config_file=config_file, backoff=Backoff(first=0.01, cap=0.05), **chosen)

    return make


class Running:
    """``shell.run()`` on a thread, as pywin32 calls SvcRun; what it raised in ``raised``."""

    def __init__(self, shell: ServiceShell) -> None:
        self.raised: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(shell,), daemon=True)
        self.thread.start()

    def _run(self, shell: ServiceShell) -> None:
        try:
            shell.run()
        except BaseException as exc:
            self.raised.append(exc)

    def ended_within(self, seconds: float) -> bool:
        self.thread.join(seconds)
        return not self.thread.is_alive()


def test_start_reports_running_and_a_stop_ends_it_cleanly(peer: Peer, tmp_path: Path) -> None:
    host = StubHost()
    log_file = tmp_path / "logs" / "agent.log"
    shell = ServiceShell(
        host, config_file=config_file(tmp_path, peer.url), log_file=log_file, make_agent=agents_with()
    )
    running = Running(shell)
    wait_for(lambda: "full" in kinds(peer.reports()))
    assert host.states() == ["start_pending", "running"]
    shell.request_stop()
    assert running.ended_within(5)
    assert running.raised == []
    assert host.states() == ["start_pending", "running", "stop_pending"]
    assert host.statuses[-1][1] > 0  # a wait hint with the stop
    assert [kind for kind, _ in host.events] == ["info", "info"]
    started, stopped = (message for _, message in host.events)
    assert started.startswith("Dozor Agent ") and f"collector {peer.url}" in started
    assert stopped == "Dozor Agent stopped"
    text = log_file.read_text()
    assert "started: collector" in text and "enrolled with" in text and "agent stopped" in text


def test_a_stop_during_a_long_tool_ends_it_within_the_deadline_and_leaves_no_orphan(
    peer: Peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inventory's one probe runs a tool for a minute (a shell with a child of its own, through
    the probes' launcher and the real runner); the stop ends both, and the cut-short inventory is
    not sent as if it were the PC's."""
    module = ModuleType("tests.agent.fake_slow_probe")
    module.collect = lambda: {"out": run_command(["sh", "-c", "sleep 60 & sleep 60; wait"], timeout=300)}  # type: ignore[attr-defined]
    module.parse = lambda raw: {}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    probe = Probe(name="hardware.slow", section="hardware", module_path=module.__name__)
    host = StubHost()
    shell = ServiceShell(
        host,
        config_file=config_file(tmp_path, peer.url),
        log_file=tmp_path / "agent.log",
        make_agent=agents_with(inventory_collector=lambda: collect_inventory((probe,), timeout=300)),
    )
    running = Running(shell)
    wait_for(lambda: CHILDREN.running() and psutil.Process(CHILDREN.running()[0]).children())
    tool = psutil.Process(CHILDREN.running()[0])
    pids = [tool.pid, *(child.pid for child in tool.children(recursive=True))]
    asked = time.monotonic()
    shell.request_stop()
    assert running.ended_within(30)
    assert time.monotonic() - asked < 5, "a stop must not wait for the tool"
    assert running.raised == []
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=5)
    assert "full" not in kinds(peer.reports())
    assert "inventory collection cut short by the stop" in (tmp_path / "agent.log").read_text()


def test_a_loop_stuck_past_the_deadline_does_not_hold_the_stop(peer: Peer, tmp_path: Path) -> None:
    """Something no stop can end (here a wait in Python; a hung system call alike): the service
    still stops, by its deadline, and says so in the Event Log."""
    release = threading.Event()

    def stuck_health() -> tuple[Health | None, list[ProbeError]]:
        release.wait(120)
        return HEALTH, []

    host = StubHost()
    shell = ServiceShell(
        host,
        config_file=config_file(tmp_path, peer.url),
        log_file=tmp_path / "agent.log",
        make_agent=agents_with(health_collector=stuck_health),
        stop_deadline=3,
    )
    running = Running(shell)
    wait_for(lambda: "running" in host.states())
    asked = time.monotonic()
    shell.request_stop()
    try:
        assert running.ended_within(10)
        assert 0.5 < time.monotonic() - asked < 3.5
        assert running.raised == []
        assert any("did not end within 3 s" in message for message in host.errors())
    finally:
        release.set()


def test_a_loop_failure_is_in_the_event_log_and_ends_the_service_with_an_exit_code(
    peer: Peer, tmp_path: Path
) -> None:
    def failing(config: AgentConfig, config_file: Path) -> Agent:
        agent = agents_with()(config, config_file)

        def step() -> None:
            raise RuntimeError("the disk is on fire")

        agent.step = step  # type: ignore[method-assign]
        return agent

    host = StubHost()
    log_file = tmp_path / "agent.log"
    shell = ServiceShell(
        host, config_file=config_file(tmp_path, peer.url), log_file=log_file, make_agent=failing
    )
    running = Running(shell)
    assert running.ended_within(10)
    (failure,) = running.raised
    assert isinstance(failure, ServiceFailed) and failure.exit_code == EXIT_LOOP_FAILED != 0
    assert host.states() == ["start_pending", "running"]  # SERVICE_STOPPED, with the code, is pywin32's
    (error,) = host.errors()
    assert "the agent's loop failed" in error and "RuntimeError: the disk is on fire" in error
    assert "Traceback" in error
    assert "RuntimeError: the disk is on fire" in log_file.read_text()


def test_without_a_config_the_service_runs_and_starts_the_agent_when_the_file_arrives(
    peer: Peer, tmp_path: Path
) -> None:
    """Installed without COLLECTOR_URL: no restart loop, a warning, and the agent once it is there."""
    host = StubHost()
    path = tmp_path / "agent.yaml"
    shell = ServiceShell(
        host, config_file=path, log_file=tmp_path / "agent.log", make_agent=agents_with(), config_poll=0.05
    )
    running = Running(shell)
    wait_for(lambda: host.states() == ["start_pending", "running"])
    ((kind, message),) = host.events
    assert kind == "warning" and f"no config at {path} yet" in message
    assert running.thread.is_alive() and peer.reports() == []
    config_file(tmp_path, peer.url)
    wait_for(lambda: "full" in kinds(peer.reports()))
    shell.request_stop()
    assert running.ended_within(5) and running.raised == []


def test_a_stop_while_waiting_for_the_config_ends_the_service_cleanly(tmp_path: Path) -> None:
    host = StubHost()
    shell = ServiceShell(host, config_file=tmp_path / "agent.yaml", log_file=tmp_path / "agent.log")
    running = Running(shell)
    wait_for(lambda: host.states() == ["start_pending", "running"])
    shell.request_stop()
    assert running.ended_within(5) and running.raised == []
    assert host.events[-1] == ("info", "Dozor Agent stopped")


def test_a_bad_config_ends_the_service_with_its_own_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text("collector_url: https://c\nhealth_interval: 60s\n")
    host = StubHost()
    with pytest.raises(ServiceFailed) as failed:
        ServiceShell(host, config_file=path, log_file=tmp_path / "agent.log").run()
    assert failed.value.exit_code == EXIT_CONFIG
    (error,) = host.errors()
    assert str(path) in error and "config error at health_interval" in error


def test_an_unusable_state_dir_ends_the_service_with_its_own_exit_code(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    path = tmp_path / "agent.yaml"
    path.write_text("collector_url: https://c\nstate_dir: file/state\n")
    host = StubHost()
    with pytest.raises(ServiceFailed) as failed:
        ServiceShell(host, config_file=path, log_file=tmp_path / "agent.log").run()
    assert failed.value.exit_code == EXIT_STATE_DIR
    assert "cannot use state_dir" in host.errors()[0]


def test_the_log_file_rotates_at_its_cap_and_keeps_a_bounded_number_of_files(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "agent.log"
    (handler,) = handlers(log_file, max_bytes=2_000, backups=3)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("tests.rotation")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for line in range(1_000):
            logger.warning("line %04d %s", line, "x" * 40)
    finally:
        logger.removeHandler(handler)
        handler.close()
    names = sorted(path.name for path in log_file.parent.iterdir())
    assert names == ["agent.log", "agent.log.1", "agent.log.2", "agent.log.3"]
    assert all(path.stat().st_size <= 2_000 for path in log_file.parent.iterdir())
    assert log_file.read_text().splitlines()[-1].startswith("line 0999")
    previous = (log_file.parent / "agent.log.1").read_text().splitlines()
    assert previous[-1] < log_file.read_text().splitlines()[0]  # rotated in order, nothing lost between


def test_only_errors_go_to_the_event_log(tmp_path: Path) -> None:
    host = StubHost()
    file_handler, event_handler = handlers(tmp_path / "agent.log", host.event_log)
    logger = logging.getLogger("tests.eventlog")
    logger.setLevel(logging.INFO)
    for handler in (file_handler, event_handler):
        logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.info("report 7 not delivered")
        logger.warning("still not delivered")
        logger.error("the collector refused this agent's token")
    finally:
        for handler in (file_handler, event_handler):
            logger.removeHandler(handler)
            handler.close()
    assert host.events == [("error", "tests.eventlog: the collector refused this agent's token")]
    assert (tmp_path / "agent.log").read_text().count("\n") == 3


def test_the_module_imports_without_pywin32() -> None:
    """What the Linux tests (and the contract test) import must not need Windows."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, agent.windows_service; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'win32service', 'win32serviceutil', 'servicemanager', 'win32job', 'pywintypes', 'winreg'}))",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


class FakePywin32:
    """Just enough of pywin32's service modules to check the wiring of the shell into them; what
    the real ones do is pywin32's (win32/Lib/win32serviceutil.py, win32/src/PythonService.cpp)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[Any, ...]] = []
        calls = self.calls

        class ServiceFramework:
            def __init__(self, args: Any) -> None:
                calls.append(("framework", tuple(args)))

            def ReportServiceStatus(self, status: int, waitHint: int = 5000) -> None:
                calls.append(("status", status, waitHint))

        class Error(Exception):
            def __init__(self, winerror: int) -> None:
                self.winerror = winerror

        def record(name: str) -> Callable[..., None]:
            return lambda *args: calls.append((name, *args))

        def dispatch() -> None:
            raise Error(1063)  # started from a console, not by the service manager

        modules = {
            "win32serviceutil": {"ServiceFramework": ServiceFramework},
            "win32service": {"SERVICE_START_PENDING": 2, "SERVICE_RUNNING": 4, "SERVICE_STOP_PENDING": 3},
            "servicemanager": {
                name: record(name)
                for name in ("LogInfoMsg", "LogWarningMsg", "LogErrorMsg", "SetEventSourceName", "Initialize")
            }
            | {"PrepareToHostSingle": record("PrepareToHostSingle"), "StartServiceCtrlDispatcher": dispatch},
            "pywintypes": {"error": Error},
            "winerror": {"ERROR_FAILED_SERVICE_CONTROLLER_CONNECT": 1063},
        }
        for name, attributes in modules.items():
            module = ModuleType(name)
            module.__dict__.update(attributes)
            monkeypatch.setitem(sys.modules, name, module)


def test_the_pywin32_class_hands_controls_to_the_shell_and_names_the_event_source(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pywin32 = FakePywin32(monkeypatch)
    cls = windows_service._service_class()
    assert (cls._svc_name_, cls._svc_display_name_) == ("DozorAgent", "Dozor Agent")
    service = cls(["DozorAgent"])
    assert ("SetEventSourceName", "Dozor Agent", True) in pywin32.calls
    service.SvcStop()
    assert pywin32.calls[-1] == ("status", 3, 30_000)  # STOP_PENDING with the stop's deadline
    service._shell._host.event_log("error", "boom")
    assert pywin32.calls[-1] == ("LogErrorMsg", "boom")

    assert windows_service.main() == 2
    assert ("Initialize", "Dozor Agent", None) in pywin32.calls
    assert pywin32.calls[-1][0] == "PrepareToHostSingle"
    assert "python -m agent run --config" in capsys.readouterr().err

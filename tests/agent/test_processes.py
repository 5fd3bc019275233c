"""The child-process launcher on Linux: a stop or a timeout ends the tool's whole process tree (its
own process group), and nothing new starts while the agent stops."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import psutil
import pytest

from agent.probes.base import ProbeFailure, run_command
from agent.processes import CHILDREN, ChildProcesses, Stopping

pytestmark = pytest.mark.skipif(os.name != "posix", reason="Linux: process groups, sh and sleep")

TREE = ["sh", "-c", "sleep 60 & sleep 60; wait"]
"""A tool that starts a child of its own: killing only the tool would leave an orphan ``sleep``."""


def wait_for(condition: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def tree_of(children: ChildProcesses) -> list[int]:
    """The running tool and its descendants, once the tool has started its own child."""
    wait_for(lambda: children.running() and psutil.Process(children.running()[0]).children())
    tool = psutil.Process(children.running()[0])
    return [tool.pid, *(child.pid for child in tool.children(recursive=True))]


@pytest.fixture
def children() -> ChildProcesses:
    return ChildProcesses()


@pytest.fixture
def reopened() -> Iterator[None]:
    """Tests that stop the agent's own launcher leave it able to start tools again."""
    yield
    CHILDREN.reopen()


def in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    raised: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, raised


def test_end_all_kills_a_running_tool_and_its_children_at_once(children: ChildProcesses) -> None:
    thread, raised = in_thread(lambda: children.run(TREE, timeout=120))
    pids = tree_of(children)
    started = time.monotonic()
    assert children.end_all() == 1
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    assert isinstance(raised[0], Stopping)
    wait_for(lambda: not any(alive(pid) for pid in pids))
    assert children.running() == []


def test_a_timeout_kills_the_whole_tree_not_only_the_tool(children: ChildProcesses) -> None:
    thread, raised = in_thread(lambda: children.run(TREE, timeout=1))
    pids = tree_of(children)
    thread.join(timeout=10)
    assert isinstance(raised[0], subprocess.TimeoutExpired)
    wait_for(lambda: not any(alive(pid) for pid in pids))


def test_nothing_starts_while_stopping_and_tools_run_again_after_reopen(children: ChildProcesses) -> None:
    children.end_all()
    with pytest.raises(Stopping):
        children.run(["true"], timeout=10)
    children.reopen()
    done = children.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=10)
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n")


@pytest.mark.usefixtures("reopened")
def test_probe_tools_go_through_the_launcher_and_a_stop_is_a_probe_failure() -> None:
    assert run_command(["sh", "-c", "echo 42"]) == "42\n"
    thread, raised = in_thread(lambda: run_command(TREE, timeout=120))
    pids = tree_of(CHILDREN)
    CHILDREN.end_all()
    thread.join(timeout=10)
    assert isinstance(raised[0], ProbeFailure)
    assert raised[0].kind == "failed" and "stopping" in raised[0].message
    wait_for(lambda: not any(alive(pid) for pid in pids))
    with pytest.raises(ProbeFailure, match="stopping"):
        run_command(["true"])

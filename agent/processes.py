"""The one way the agent starts child processes (the probes' tools, PowerShell), so that stopping the
agent can end every one still running, together with whatever it started in turn.

A tool is started in a process tree of its own — a process group on Linux, a job object on Windows
— and the tree is what gets killed: on a timeout, and for every running tool by :meth:`end_all`
when the agent stops. From ``end_all`` until ``reopen`` no new tool starts (a probe asking gets
:class:`Stopping`), so the probes still queued fail at once instead of holding up the stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

from agent.os_defaults import PLATFORM

log = logging.getLogger(__name__)

CREATE_NO_WINDOW = 0x08000000
"""``subprocess.CREATE_NO_WINDOW``, which exists only in Windows builds of Python."""
REAP_SECONDS = 5.0
"""After a kill, how long to wait for the child's pipes to close (a descendant that escaped its
tree may hold them open)."""


class Stopping(Exception):
    """The agent is stopping: no new child process is started, and a running one was ended."""


class _Tree(Protocol):
    popen_options: ClassVar[Mapping[str, Any]]
    """What ``Popen`` needs to start the child in a tree of its own."""

    def kill(self) -> None: ...

    def close(self) -> None:
        """The child has been reaped: release what the tree holds."""


class _ProcessGroup:
    """Linux: the child leads a session (and process group) of its own; kill the whole group."""

    popen_options: ClassVar[Mapping[str, Any]] = {"start_new_session": True}

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._pgid = process.pid

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
            os.killpg(self._pgid, signal.SIGKILL)

    def close(self) -> None:
        """Nothing to release. (A descendant still running after the tool ended is left alone: once
        the tool is reaped its group id may belong to someone else.)"""


class _JobObject:
    """Windows: the child is put in a job object of its own; its descendants join the job, and
    terminating the job ends them all. ``KILL_ON_JOB_CLOSE`` also ends them when the handle is
    closed — after the child is reaped, or when the agent's process dies."""

    popen_options: ClassVar[Mapping[str, Any]] = {"creationflags": CREATE_NO_WINDOW}
    """No console window flashes up on the user's desktop for a tool (PowerShell is a console program)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._process = process
        self._job: Any = None
        try:
            self._job = _job_holding(process.pid)
        except Exception as exc:  # pywin32 missing (a broken install), or the process has ended already
            log.warning("no job object for %s (%s); only it will be ended on stop", process.args, exc)

    def kill(self) -> None:
        if self._job is None:
            self._process.kill()
            return
        import win32job

        try:
            win32job.TerminateJobObject(self._job, 1)
        except Exception:  # pywintypes.error: the job's processes are gone already
            self._process.kill()

    def close(self) -> None:
        if self._job is not None:
            self._job.Close()
            self._job = None


def _job_holding(pid: int) -> Any:
    """A new job object (killing its processes when closed) holding process ``pid``."""
    import win32api
    import win32con
    import win32job

    job = win32job.CreateJobObject(None, "")
    try:
        limits = win32job.QueryInformationJobObject(job, win32job.JobObjectExtendedLimitInformation)
        limits["BasicLimitInformation"]["LimitFlags"] |= win32job.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        win32job.SetInformationJobObject(job, win32job.JobObjectExtendedLimitInformation, limits)
        process = win32api.OpenProcess(win32con.PROCESS_SET_QUOTA | win32con.PROCESS_TERMINATE, False, pid)
        try:
            win32job.AssignProcessToJobObject(job, process)
        finally:
            process.Close()
    except BaseException:
        job.Close()
        raise
    return job


_TREE = _JobObject if PLATFORM == "windows" else _ProcessGroup


class ChildProcesses:
    """The running children and their trees; :data:`CHILDREN` is the agent's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[subprocess.Popen[bytes], _Tree] = {}
        self._stopping = False

    def run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        """Like ``subprocess.run(args, capture_output=True, timeout=timeout, stdin=DEVNULL)``, raising
        the same FileNotFoundError / PermissionError / TimeoutExpired, plus :class:`Stopping`."""
        with self._lock:  # so end_all() cannot miss a child being started
            if self._stopping:
                raise Stopping(f"not starting {args[0]}: the agent is stopping")
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                **_TREE.popen_options,
            )
            tree = self._running[process] = _TREE(process)
        try:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired as expired:
                tree.kill()
                # What it printed before the kill: a tool that writes as it goes (PowerShell's frames)
                # still gives the part it finished.
                expired.output, expired.stderr = _reap(process)
                raise
            except BaseException:  # the thread interrupted: leave nothing behind
                tree.kill()
                _reap(process)
                raise
        finally:
            with self._lock:
                del self._running[process]
                stopping = self._stopping
            tree.close()
        if stopping and process.returncode != 0:
            raise Stopping(f"{args[0]} was ended: the agent is stopping")
        return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)

    def end_all(self) -> int:
        """Kill every running child's tree and start no new ones; the number of trees killed."""
        with self._lock:
            self._stopping = True
            trees = list(self._running.values())
        for tree in trees:
            tree.kill()
        return len(trees)

    def reopen(self) -> None:
        """Start children again (a new run of the agent's loop)."""
        with self._lock:
            self._stopping = False

    def running(self) -> list[int]:
        """Pids of the children running now."""
        with self._lock:
            return [process.pid for process in self._running]


def _reap(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Wait for a killed child; its whole stdout and stderr (empty if its pipes stay open)."""
    try:
        stdout, stderr = process.communicate(timeout=REAP_SECONDS)
    except subprocess.TimeoutExpired:
        log.warning("%s was killed but its output stays open; giving up on it", process.args)
        return b"", b""
    return stdout or b"", stderr or b""


CHILDREN = ChildProcesses()

"""The Windows service ``DozorAgent``: the agent's loop (:mod:`agent.service`) as a service that
Windows starts, stops and restarts.

The MSI registers ``<INSTALLDIR>\\python\\python.exe -m agent.windows_service`` (LocalSystem,
delayed automatic start, restart on failure); started so by the service manager, :func:`main`
hosts the service through pywin32's framework. The config is ``%ProgramData%\\Dozor\\agent.yaml``.

:class:`ServiceShell` holds the logic — statuses, the agent's loop on a worker thread, a stop that
ends running tools and finishes within 30 s, an exit code that makes Windows restart the service
after a failure, the log — and touches Windows only through :class:`ServiceHost`, so it is tested
on Linux with a stub host. pywin32 is imported only in :func:`_service_class` and :func:`main`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NoReturn, Protocol

from agent import __version__
from agent.config import DEFAULT_CONFIG_PATH, AgentConfig, ConfigError, load_config
from agent.logs import EventKind, handlers, setup_logging
from agent.os_defaults import WINDOWS
from agent.processes import CHILDREN, ChildProcesses
from agent.service import STOP_DEADLINE_SECONDS, Agent, AgentThread

log = logging.getLogger(__name__)

SERVICE_NAME = "DozorAgent"
DISPLAY_NAME = "Dozor Agent"
DESCRIPTION = "Reports this PC's hardware, software, protection and health to the Dozor collector."
EVENT_SOURCE = "Dozor Agent"
"""The Application Event Log source of the service's entries (and of pywin32's own)."""
START_WAIT_HINT_MS = 15_000
STATUS_EVERY_SECONDS = 5.0
"""While stopping, STOP_PENDING is reported again this often, so Windows sees progress."""
EXIT_MARGIN_SECONDS = 2.0
"""Of the stop deadline, kept for reporting SERVICE_STOPPED after the loop's wait."""
CONFIG_POLL_SECONDS = 10.0
"""How often a service installed without a config looks for it."""

EXIT_LOOP_FAILED = 1
EXIT_CONFIG = 2
EXIT_STATE_DIR = 3

Status = Literal["start_pending", "running", "stop_pending"]
"""SERVICE_STOPPED is not among them: pywin32 reports it once ``SvcRun`` has returned (exit code
0) or raised (:class:`ServiceFailed`); a status reported after it would not be seen."""


class ServiceHost(Protocol):
    """The Windows calls the shell makes: pywin32's in the service, a recording stub in tests."""

    def report_status(self, status: Status, wait_hint_ms: int = 0) -> None:
        """Tell the service manager the service's state (SetServiceStatus)."""

    def event_log(self, kind: EventKind, message: str) -> None:
        """Write an entry to the Application Event Log under :data:`EVENT_SOURCE`."""


class ServiceFailed(Exception):
    """The service ends because it cannot go on. Raised out of ``SvcRun``, it makes pywin32 report
    SERVICE_STOPPED with ERROR_SERVICE_SPECIFIC_ERROR and its service-specific code 0x20000001 (and
    write this message to the Event Log), which Windows answers with the service's failure actions
    (restart). ``exit_code`` names the kind of failure in that message."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(f"{message} (exit code {exit_code})")
        self.exit_code = exit_code


def _agent_for(config: AgentConfig, config_file: Path) -> Agent:
    return Agent(config, config_file=config_file)


class ServiceShell:
    """One run of the service: :meth:`run` on the service's thread until :meth:`request_stop` (the
    service manager's control thread) or the loop's failure."""

    def __init__(
        self,
        host: ServiceHost,
        *,
        config_file: Path = DEFAULT_CONFIG_PATH,
        log_file: Path | None = WINDOWS.service_log_file,
        make_agent: Callable[[AgentConfig, Path], Agent] = _agent_for,
        stop_deadline: float = STOP_DEADLINE_SECONDS,
        children: ChildProcesses = CHILDREN,
        config_poll: float = CONFIG_POLL_SECONDS,
    ) -> None:
        self._host = host
        self._config_file = config_file
        self._log_file = log_file
        self._make_agent = make_agent
        self._stop_deadline = stop_deadline
        self._children = children
        self._config_poll = config_poll
        self._wake = threading.Event()
        """Set by a stop request or by the loop's end, whichever comes first."""
        self._stop_requested_at: float | None = None

    def request_stop(self) -> None:
        """SERVICE_CONTROL_STOP or SHUTDOWN: returns at once (the control handler must), the
        service's thread does the stopping."""
        if self._stop_requested_at is None:
            self._stop_requested_at = time.monotonic()
        self._host.report_status("stop_pending", wait_hint_ms=int(self._stop_deadline * 1000))
        self._wake.set()

    def run(self) -> None:
        """Start, run until stopped, stop; raises :class:`ServiceFailed` when the service must end
        with an error (a bad config, an unusable state dir, the loop's failure)."""
        self._host.report_status("start_pending", wait_hint_ms=START_WAIT_HINT_MS)
        setup_logging("info", handlers(self._log_file, self._host.event_log))
        if not self._config_arrived():
            self._tell("Dozor Agent stopped")
            return
        worker = AgentThread(self._start_agent(), on_end=self._wake.set, children=self._children)
        worker.start()
        self._host.report_status("running")
        self._tell(
            f"Dozor Agent {__version__} started: collector {worker.agent.config.collector_url}, "
            f"config {self._config_file}, log {self._log_file}"
        )
        self._wake.wait()
        if self._stop_requested_at is None:
            self._fail_after_loop_failure(worker)
        self._stop(worker, self._stop_requested_at)
        self._tell("Dozor Agent stopped")

    def _config_arrived(self) -> bool:
        """An MSI installed without COLLECTOR_URL leaves no config (a GPO or an administrator puts
        it there later): wait for it, running, rather than fail and be restarted every minute.
        False if a stop came first."""
        if self._config_file.exists():
            return True
        self._host.report_status("running")
        message = f"no config at {self._config_file} yet: the agent starts when the file is there"
        log.warning("%s", message)
        self._host.event_log("warning", message)
        while not self._config_file.exists():
            if self._wake.wait(self._config_poll):
                return False
        log.info("config %s found", self._config_file)
        return True

    def _start_agent(self) -> Agent:
        try:
            config = load_config(self._config_file)
        except ConfigError as exc:
            log.error("%s: %s; the service stops until the file is fixed", self._config_file, exc)
            raise ServiceFailed(EXIT_CONFIG, str(exc)) from None
        logging.getLogger().setLevel(config.log_level.upper())
        try:
            return self._make_agent(config, self._config_file)
        except OSError as exc:  # the state dir cannot be created, read or written
            where = f" ({exc.filename})" if exc.filename else ""
            message = f"cannot use state_dir {config.state_dir}: {exc.strerror or exc}{where}"
            log.error("%s; the service stops", message)
            raise ServiceFailed(EXIT_STATE_DIR, message) from None

    def _fail_after_loop_failure(self, worker: AgentThread) -> NoReturn:
        """The loop ended by itself: only a failure does that. End its tools and exit with an error."""
        log.error(
            "the agent's loop failed; the service stops with exit code %d so that Windows restarts it",
            EXIT_LOOP_FAILED,
            exc_info=worker.error,
        )
        worker.stop()
        raise ServiceFailed(EXIT_LOOP_FAILED, f"the agent's loop failed: {worker.error!r}")

    def _stop(self, worker: AgentThread, requested_at: float) -> None:
        """End the loop and its tools by the deadline, telling Windows the stop is progressing."""
        worker.stop()
        until = requested_at + self._stop_deadline - EXIT_MARGIN_SECONDS
        while not worker.join(max(0.0, min(STATUS_EVERY_SECONDS, until - time.monotonic()))):
            remaining = until - time.monotonic()
            if remaining <= 0:
                log.error(
                    "the agent's loop did not end within %.0f s of the stop; the service stops anyway",
                    self._stop_deadline,
                )
                return
            hint = remaining + EXIT_MARGIN_SECONDS
            self._host.report_status("stop_pending", wait_hint_ms=int(hint * 1000))
        if worker.error is not None:  # failed while stopping: worth knowing, not worth a restart
            log.error("the agent's loop failed while stopping", exc_info=worker.error)

    def _tell(self, message: str) -> None:
        log.info("%s", message)
        self._host.event_log("info", message)


def _service_class() -> type:
    """The pywin32 service class around :class:`ServiceShell` (pywin32 imported here only)."""
    import servicemanager
    import win32service
    import win32serviceutil

    statuses = {
        "start_pending": win32service.SERVICE_START_PENDING,
        "running": win32service.SERVICE_RUNNING,
        "stop_pending": win32service.SERVICE_STOP_PENDING,
    }
    writers = {
        "info": servicemanager.LogInfoMsg,
        "warning": servicemanager.LogWarningMsg,
        "error": servicemanager.LogErrorMsg,
    }

    class PywinHost:
        def __init__(self, service: Any) -> None:
            self._service = service

        def report_status(self, status: Status, wait_hint_ms: int = 0) -> None:
            self._service.ReportServiceStatus(statuses[status], waitHint=wait_hint_ms)

        def event_log(self, kind: EventKind, message: str) -> None:
            writers[kind](message)

    class DozorAgentService(win32serviceutil.ServiceFramework):
        _svc_name_ = SERVICE_NAME
        _svc_display_name_ = DISPLAY_NAME
        _svc_description_ = DESCRIPTION

        def __init__(self, args: Any) -> None:
            super().__init__(args)
            servicemanager.SetEventSourceName(EVENT_SOURCE, True)  # registered now, as LocalSystem
            self._shell = ServiceShell(PywinHost(self))

        def SvcStop(self) -> None:
            self._shell.request_stop()

        def SvcShutdown(self) -> None:
            self._shell.request_stop()

        def SvcInterrogate(self) -> None:
            """The service manager keeps the last status reported; the framework's default would
            report RUNNING, even while stopping."""

        def SvcRun(self) -> None:  # replaces the framework's, which reports RUNNING before any work
            self._shell.run()

    return DozorAgentService


def main() -> int:
    """Host the service when the service manager starts this module; from a console, say how to
    run the agent instead."""
    import pywintypes
    import servicemanager
    import winerror

    servicemanager.Initialize(EVENT_SOURCE, None)
    servicemanager.PrepareToHostSingle(_service_class())
    try:
        servicemanager.StartServiceCtrlDispatcher()
    except pywintypes.error as exc:
        if exc.winerror != winerror.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT:
            raise
        print(
            f"This is the {DISPLAY_NAME} service; Windows starts it (`sc start {SERVICE_NAME}`).\n"
            "To run the agent in this console: python -m agent run --config FILE",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

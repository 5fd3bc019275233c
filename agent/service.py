"""The agent's loop: collect on schedule, put every report in the spool, drain the spool in order.

One thread does it all, between waits on the stop event: health every ``health_interval``,
inventory at start and every ``inventory_interval``, and one delivery attempt per step while the
spool has reports (so a long replay never delays a health sample). Idle, the agent sleeps until
the next deadline.

:class:`AgentThread` runs that loop on a thread of its own for whoever is told to stop (the
Windows service's control handler, a signal handler): it ends the probes' running tools and bounds
the wait, so a stop never waits for a tool or a slow answer.

Inventory goes by reference: a report carries the full inventory only when its hash differs from
the one the collector holds (``State.inventory_hash``); otherwise the hash alone. The collector
answers ``need_inventory`` when it lacks the referenced inventory, and the agent then collects
and sends it in full at once.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from agent import __version__
from agent.config import SECRET_ENV, AgentConfig, forget_enrollment_secret
from agent.os_defaults import hardware_uuid_text
from agent.probes.hardware.identity import smbios_uuid
from agent.processes import CHILDREN, ChildProcesses
from agent.runner import ProbeCache, collect_health, collect_inventory, inventory_hash
from agent.schema.report import SCHEMA_VERSION, Health, Inventory, ProbeError, Report
from agent.spool import Spool
from agent.state import Credentials, State, machine_id
from agent.transport import Backoff, EnrollError, Transport

log = logging.getLogger(__name__)

SPOOL_DIR = "spool"
CREDENTIALS_POLL_SECONDS = 30.0
"""While not enrolled or after a 401: how often to look for new credentials."""
FAILED_STEP_DELAY_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 30.0
"""A stop ends within this, tools and a hung request included (the Windows service promises it to
the service manager; systemd would kill the agent after 90 s)."""

HealthCollector = Callable[[], tuple[Health | None, list[ProbeError]]]
InventoryCollector = Callable[[], tuple[Inventory, list[ProbeError]]]


def hostname() -> str:
    return socket.gethostname().replace("\x00", "")[:1024]


def build_report(
    seq: int,
    machine: str,
    *,
    health: Health | None = None,
    inventory: Inventory | None = None,
    inventory_hash: str | None = None,
    probe_errors: Sequence[ProbeError] = (),
) -> Report:
    return Report(
        schema_version=SCHEMA_VERSION,
        machine_id=machine,
        seq=seq,
        collected_at=datetime.now(UTC),
        agent_version=__version__,
        hostname=hostname(),
        health=health,
        inventory=inventory,
        inventory_hash=inventory_hash,
        probe_errors=list(probe_errors),
    )


def enroll(
    config: AgentConfig, state: State, transport: Transport, config_file: Path | None = None
) -> Credentials:
    """Enroll with the configured secret and keep the credentials; raises EnrollError. Then the
    secret leaves ``config_file``: from now on the token is all this PC needs, and a secret left on
    every PC could enroll anything."""
    if not config.enrollment_secret:
        raise EnrollError(f"no enrollment secret: set enrollment_secret or {SECRET_ENV}", retry=False)
    answer = transport.enroll(
        machine_id(state.directory),
        hostname(),
        config.enrollment_secret,
        smbios_uuid(hardware_uuid_text()),
    )
    credentials = Credentials(device_id=answer.device_id, token=answer.token)
    state.save_credentials(credentials)
    log.info("enrolled with %s as device %d", config.collector_url, answer.device_id)
    if config_file is not None:
        _remove_secret(config_file)
    return credentials


def _remove_secret(config_file: Path) -> None:
    try:
        removed = forget_enrollment_secret(config_file)
    except OSError as exc:
        log.warning(
            "enrolled, but the enrollment secret could not be removed from %s (%s); remove it by hand",
            config_file,
            exc.strerror or exc,
        )
        return
    if removed:
        log.info("enrollment secret removed from %s: the agent's own token replaces it", config_file)
    if os.environ.get(SECRET_ENV):
        log.info("%s is set in the environment, which the agent leaves alone: unset it there", SECRET_ENV)


def cadenced_inventory(config: AgentConfig) -> InventoryCollector:
    """Inventories whose expensive probes run on their own cadence (``updates_interval``), their
    last results kept in the state dir."""
    cache = ProbeCache(config.state_dir)
    intervals = {"updates": float(config.updates_interval)}
    return lambda: collect_inventory(cache=cache, intervals=intervals)


class Agent:
    """A running agent: ``run(stop)`` until the event is set. Collectors and backoff are parameters
    so tests can make them fast and predictable."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        config_file: Path | None = None,
        health_collector: HealthCollector = collect_health,
        inventory_collector: InventoryCollector | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self.config_file = config_file
        """The file the config came from: the enrollment secret is removed from it after enrolling."""
        self._stop = threading.Event()
        self._collect_health = health_collector
        # The spool first: a fresh state must number on from the reports still waiting. Its on_drop
        # is only called once the agent runs, when self.state exists.
        self.spool = Spool(
            config.state_dir / SPOOL_DIR,
            max_bytes=config.spool_max_bytes,
            max_age=config.spool_max_age,
            on_drop=self._dropped,
        )
        self.state = State(config.state_dir, min_next_seq=self.spool.last_seq + 1)
        self._collect_inventory = inventory_collector or cadenced_inventory(config)
        self.transport = Transport(
            config.collector_url, ca_file=config.ca_file, timeout=config.request_timeout
        )
        self.machine_id = machine_id(config.state_dir)
        self._backoff = backoff or Backoff()
        self._refused_token: str | None = None
        """A token the collector answered 401 to: not used again until the credentials change."""
        self._told_not_enrolled = False
        now = time.monotonic()
        self._next_health = now
        self._next_inventory = now
        self._next_send = now

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        log.info(
            "agent %s started: collector %s, state in %s, %d reports spooled",
            __version__,
            self.config.collector_url,
            self.config.state_dir,
            len(self.spool),
        )
        try:
            while not stop.is_set():
                self.step()
                stop.wait(
                    max(0.0, min(self._next_health, self._next_inventory, self._next_send) - time.monotonic())
                )
        finally:
            self.transport.close()
        log.info("agent stopped (%d reports spooled)", len(self.spool))

    def step(self) -> None:
        """Whatever is due now: a health report, an inventory report, one delivery attempt."""
        now = time.monotonic()
        if now >= self._next_health:
            self._next_health = now + self.config.health_interval
            self._guarded("health", self._health_cycle)
        if now >= self._next_inventory:
            self._next_inventory = now + self.config.inventory_interval
            self._guarded("inventory", self._inventory_cycle)
        if time.monotonic() >= self._next_send:
            try:
                self._next_send = self._deliver_one()
            except Exception:  # e.g. the spool's disk failing under us; the reports stay put
                log.exception("delivery step failed; trying again in %.0f s", FAILED_STEP_DELAY_SECONDS)
                self._next_send = time.monotonic() + FAILED_STEP_DELAY_SECONDS

    def _guarded(self, what: str, cycle: Callable[[], None]) -> None:
        """A failing cycle (full disk, a bug) costs that report, never the agent."""
        try:
            cycle()
        except Exception:
            log.exception("%s report not spooled", what)

    # ---- collecting

    def _spool(self, report: Report) -> None:
        self.spool.put(report.seq, msgspec.json.encode(report))
        if self._next_send == math.inf:  # the sender was idle: wake it
            self._next_send = time.monotonic()

    def _health_cycle(self) -> None:
        health, errors = self._collect_health()
        self._spool(build_report(self.state.take_seq(), self.machine_id, health=health, probe_errors=errors))

    def _inventory_cycle(self) -> None:
        inventory, errors = self._collect_inventory()
        if self._stop.is_set():  # its tools were ended half-way: not the PC's inventory
            log.info("inventory collection cut short by the stop; not spooled")
            return
        digest = inventory_hash(inventory)
        full = digest != self.state.inventory_hash
        seq = self.state.take_seq()
        self._spool(
            build_report(
                seq,
                self.machine_id,
                inventory=inventory if full else None,
                inventory_hash=digest,
                probe_errors=errors,
            )
        )
        if full:
            self.state.sent_full_inventory(digest, seq)
        log.info("inventory report %d spooled (%s)", seq, "full" if full else "unchanged, by reference")

    def _dropped(self, count: int) -> None:
        self.state.count_dropped(count)
        log.warning("%d reports lost so far (spool limits or unreadable files)", self.state.dropped_reports)

    # ---- delivering

    def _deliver_one(self) -> float:
        """Try the oldest spooled report; return when to try the next one."""
        now = time.monotonic()
        if self.transport.token is None:
            wait = self._take_credentials()
            if wait is not None:
                return now + wait
        item = self.spool.oldest()
        if item is None:
            self.transport.close()
            return math.inf
        seq, body = item
        outcome = self.transport.send(body)
        if outcome.kind == "retry":
            delay = self._backoff.next_delay()
            log.warning(
                "report %d not delivered (%s); %d spooled, next try in %.1f s",
                seq,
                outcome.detail,
                len(self.spool),
                delay,
            )
            return now + delay
        self._backoff.reset()
        if outcome.kind == "unauthorized":
            self._refused_token, self.transport.token = self.transport.token, None
            self.transport.close()
            log.error(
                "the collector refused this agent's token (%s): sending stopped, reports stay in the spool. "
                "Enroll again: give the agent a new enrollment secret (enrollment_secret in %s, or %s) "
                "and run `dozor-agent enroll`; sending resumes by itself",
                outcome.detail,
                self.config_file or "its config file",
                SECRET_ENV,
            )
            return now + CREDENTIALS_POLL_SECONDS
        if outcome.kind == "rejected":
            log.error(
                "report %d rejected by the collector (%s); kept in spool/rejected/", seq, outcome.detail
            )
            self.spool.reject(seq)
        else:
            self.spool.remove(seq)
            if outcome.need_inventory and self.state.forget_inventory(seq):
                log.info("the collector asks for the full inventory; collecting it now")
                self._next_inventory = now
        return now

    def _take_credentials(self) -> float | None:
        """Use the stored credentials (unless refused), or enroll when there are none and a secret is
        configured. None when the transport has a token now, else seconds to wait."""
        credentials = self.state.credentials()
        if credentials is None and self.config.enrollment_secret:
            try:
                credentials = enroll(self.config, self.state, self.transport, self.config_file)
            except EnrollError as exc:
                delay = self._backoff.next_delay()
                log.error(
                    "enrollment with %s failed: %s; next try in %.1f s", self.config.collector_url, exc, delay
                )
                return delay
        if credentials is None:
            if not self._told_not_enrolled:
                log.error("not enrolled: run `dozor-agent enroll`; reports are kept in the spool meanwhile")
                self._told_not_enrolled = True
            return CREDENTIALS_POLL_SECONDS
        if credentials.token == self._refused_token:
            return CREDENTIALS_POLL_SECONDS  # said so at the 401
        self._backoff.reset()
        self.transport.token = credentials.token
        self._refused_token = None
        self._told_not_enrolled = False
        log.info("sending as device %d", credentials.device_id)
        return None


class AgentThread:
    """``agent.run(stop)`` on a daemon thread, for the thread that is told to stop (the Windows
    service's control handler, a signal handler): :meth:`stop` also ends the tools the probes are
    running, so the loop ends within seconds, and whoever waits bounds the wait with :meth:`join`
    (daemon: a loop stuck in a system call cannot keep the process alive)."""

    def __init__(
        self,
        agent: Agent,
        *,
        on_end: Callable[[], None] = lambda: None,
        children: ChildProcesses = CHILDREN,
    ) -> None:
        self.agent = agent
        self.error: Exception | None = None
        """What the loop died of; None while it runs and after a clean stop."""
        self._on_end = on_end
        self._children = children
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="dozor-agent", daemon=True)

    def start(self) -> None:
        self._children.reopen()
        self._thread.start()

    def _main(self) -> None:
        try:
            self.agent.run(self._stop)
        except Exception as exc:  # told to the owner, who logs it and exits with an error
            self.error = exc
        finally:
            self._on_end()

    def stop(self) -> None:
        """Ask the loop to end and end the running tools; returns at once."""
        self._stop.set()
        ended = self._children.end_all()
        if ended:
            log.info("stopping: ended %d running tool(s)", ended)

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the loop to end; True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

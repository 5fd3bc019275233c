"""Backing up the configured SSH devices from the running collector (and from the command line).

One APScheduler job per device runs every ``ssh.interval_seconds`` with jitter. netmiko is
synchronous, so each backup runs whole (claim, session, store) in a worker of a bounded thread
pool; its deadline starts when a worker takes it, and the session's own watchdog ends it there, so
a hanging device holds one worker for at most ``ssh.timeout_seconds`` and delays nobody else.
Replicas sharing a store split the devices by the same sticky claim as SNMP
(``collector.store.devices.claim_poll``, with the runtime's one poller id), so one replica backs up
a device. A failed session (any ``CliError``) records its named error and leaves the stored
versions and facts alone. Credentials never reach a log line (their ``repr`` hides them too).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.orm import Session, sessionmaker

from collector.inventory import Change
from collector.metrics.instruments import CollectorMetrics
from collector.sources.scheduling import TAKEOVER_INTERVALS, start_device_schedule, unique_devices
from collector.sources.ssh import store
from collector.sources.ssh.config import SshConfig, SshCredential, SshDevice
from collector.sources.ssh.config_text import normalize_config
from collector.sources.ssh.errors import CliError, HostKeyChanged
from collector.sources.ssh.facts import Facts, merge_version, parse_facts
from collector.sources.ssh.session import CliResult, Credentials, Target, fetch
from collector.sources.ssh.view import BackupView
from collector.store.devices import claim_poll, ensure_device
from collector.store.models import Device

log = logging.getLogger(__name__)
for _chatty in ("netmiko", "paramiko"):
    # Their DEBUG is the session's raw transcript (whole configs, secrets and all) and their INFO a
    # line per login: only their warnings reach the collector's log, whatever its level.
    logging.getLogger(_chatty).setLevel(logging.WARNING)

SSH_PORT = 22


def store_address(device: SshDevice) -> str:
    """The device's key in the store: its address, with the port when not 22. The same address as
    an SNMP device on the standard ports is the same row: the CLI facts join the SNMP ones."""
    if device.port == SSH_PORT:
        return device.address
    host = f"[{device.address}]" if ":" in device.address else device.address
    return f"{host}:{device.port}"


def credentials_of(credential: SshCredential) -> Credentials:
    return Credentials(
        username=credential.username,
        password=credential.password,
        key_file=str(credential.key_file) if credential.key_file else None,
        enable_secret=credential.enable_secret,
    )


@dataclass(frozen=True)
class BackupResult:
    """One backup attempt, as the API and the CLI report it (no config text, no secret)."""

    device_id: int
    address: str
    name: str
    status: store.SshStatus
    """The device's SSH side as stored after the attempt."""
    error_kind: str | None = None
    error_message: str | None = None
    version_id: int | None = None
    new_version: bool = False
    config_changed: bool = False
    fact_errors: dict[str, str] = field(default_factory=dict)
    """Fact commands that failed alone (command → error kind); their facts keep their last value."""
    changes: list[Change] = field(default_factory=list)
    seconds: float = 0.0


def cli_facts(platform_name: str, result: CliResult) -> tuple[dict[str, Any], dict[str, str]]:
    """The session's fact outputs → the ``cli`` facts document and the commands that failed.

    A fact kind no command could read is left out (its last known value stays); the version
    records of several commands merge into one; neighbours seen by LLDP and CDP are listed once."""
    errors = {command: error.kind for command, error in result.fact_errors.items()}
    parts: dict[str, list[Facts]] = {}
    for command, output in result.outputs.items():
        try:
            facts = parse_facts(platform_name, command, output)
        except CliError as exc:
            errors[command] = exc.kind
            continue
        parts.setdefault(facts.kind, []).append(facts)
    document: dict[str, Any] = {}
    for kind, found in parts.items():
        if kind == "version":
            document[kind] = merge_version(found)
            continue
        records: dict[bytes, dict[str, Any]] = {}
        for facts in found:
            for record in facts.records:
                identity = (record["local_port"], record["remote_name"]) if kind == "neighbors" else record
                records.setdefault(msgspec.json.encode(identity, order="sorted"), record)
        document[kind] = list(records.values())
    return document, errors


@dataclass(frozen=True)
class Claimed:
    """A configured device's row before a backup: whether this replica backs it up now, and the
    host key its session must see."""

    device_id: int
    ours: bool
    name: str
    """The configured name, else the device's hostname (as the SNMP view names it)."""
    host_key: str | None


_STORE_LOCK = threading.Lock()
"""Serialises this process's backup transactions. They are short, but with dozens of session
threads holding the GIL in turn, one that holds SQLite's write lock waits long for its next turn,
and the others' busy timeouts ran out ("database is locked"); a Python lock waits without one."""


@contextmanager
def _transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with _STORE_LOCK, sessions.begin() as session:
        yield session


def claim_device(
    sessions: sessionmaker[Session], device: SshDevice, poller_id: str | None, takeover_after: timedelta
) -> Claimed:
    """The device's row (created before its first backup), whether this replica backs it up now
    and its trusted host key. ``poller_id`` None: an explicit request, which claims nothing."""
    now = datetime.now(UTC)
    with _transaction(sessions) as session:
        device_id = ensure_device(
            session,
            store_address(device),
            "switch",
            device.name,
            now,
            location=device.location,
            group=device.group,
        )
        ours = poller_id is None or claim_poll(session, device_id, poller_id, now, takeover_after)
        name = device.name or session.get_one(Device, device_id).hostname
        return Claimed(device_id, ours, name, store.trusted_host_key(session, device_id))


def backup_device(
    sessions: sessionmaker[Session], config: SshConfig, device: SshDevice, claimed: Claimed
) -> BackupResult:
    """Fetch one device's running config and CLI facts and store them; never raises a ``CliError``
    (a failed session is a result with its named error)."""
    started = time.monotonic()
    deadline = started + config.timeout_seconds
    address, device_id, name = store_address(device), claimed.device_id, claimed.name
    credential = config.credentials[device.credential]
    try:
        result = fetch(
            Target(device.address, device.port),
            credentials_of(credential),
            device.platform,
            claimed.host_key,
            deadline,
        )
    except CliError as exc:
        now = datetime.now(UTC)
        seen = exc.seen if isinstance(exc, HostKeyChanged) else None
        with _transaction(sessions) as session:
            changes = store.record_backup_failure(
                session, device_id, kind=exc.kind, message=exc.message, at=now, seen_host_key=seen
            )
            status = store.ssh_status(session, device_id)
        log.info("SSH backup of %s failed: %s", address, exc.kind)
        return BackupResult(
            device_id,
            address,
            name,
            status,
            exc.kind,
            exc.message,
            changes=changes,
            seconds=time.monotonic() - started,
        )
    text = normalize_config(device.platform, result.config)
    facts, fact_errors = cli_facts(device.platform, result)
    now = datetime.now(UTC)
    with _transaction(sessions) as session:
        stored = store.record_backup(
            session, device_id, platform=device.platform, text=text, host_key=result.host_key, at=now
        )
        fact_changes = store.apply_cli_facts(session, device_id, facts, now) if facts else []
        status = store.ssh_status(session, device_id)
    log.debug("SSH backup of %s in %.2fs (new version: %s)", address, result.seconds, stored.new_version)
    return BackupResult(
        device_id,
        address,
        name,
        status,
        version_id=stored.version_id,
        new_version=stored.new_version,
        config_changed=stored.config_changed,
        fact_errors=fact_errors,
        changes=stored.changes + fact_changes,
        seconds=time.monotonic() - started,
    )


class SshPolling:
    """Owns the scheduler and the worker pool; ``start()`` and ``stop()`` run on the app's loop."""

    name = "ssh"

    def __init__(
        self,
        config: SshConfig,
        sessions: sessionmaker[Session],
        view: BackupView,
        poller_id: str,
        metrics: CollectorMetrics | None = None,
    ) -> None:
        self.poller_id = poller_id
        self._config = config
        self._sessions = sessions
        self._view = view
        self._metrics = metrics
        self._takeover_after = timedelta(seconds=TAKEOVER_INTERVALS * config.interval_seconds)
        self._devices = unique_devices(config.devices, store_address, "ssh")
        self._busy: dict[str, asyncio.Lock] = {address: asyncio.Lock() for address in self._devices}
        """One backup of a device at a time (a scheduled one and one asked for)."""
        self._scheduler: AsyncIOScheduler | None = None
        self._pool: ThreadPoolExecutor | None = None

    def device_at(self, address: str) -> SshDevice | None:
        """The configured device whose store address is ``address``."""
        return self._devices.get(address)

    async def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._config.max_concurrent_backups, thread_name_prefix="dozor-ssh")
        skipped = None if self._metrics is None else self._metrics.poll_runs_skipped.labels("ssh").inc
        self._scheduler = start_device_schedule(
            self.backup_scheduled,
            self._devices,
            source="ssh",
            action="backup",
            interval=self._config.interval_seconds,
            max_jitter=60.0,
            skipped=skipped,
        )
        log.info(
            "SSH backups started: %d devices every %ss", len(self._devices), self._config.interval_seconds
        )

    async def stop(self) -> None:
        """Stop scheduling and drop queued backups; sessions in flight end by their deadline."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def backup_scheduled(self, device: SshDevice) -> None:
        """The scheduled backup of one device; never raises (a job's failure is logged here)."""
        try:
            await self._run(device, self.poller_id)
        except asyncio.CancelledError:
            if self._scheduler is None:
                return
            raise
        except Exception as exc:  # a bug or the store being away must not stop the schedule
            log.warning("SSH backup of %s failed: %s", store_address(device), exc.__class__.__name__)

    async def backup_now(self, device: SshDevice) -> BackupResult:
        """A backup an administrator asked for: runs here whichever replica holds the claim."""
        result = await self._run(device, None)
        assert result is not None
        return result

    async def _run(self, device: SshDevice, poller_id: str | None) -> BackupResult | None:
        if self._pool is None:
            raise RuntimeError("SSH backups are not running")
        loop = asyncio.get_running_loop()
        async with self._busy[store_address(device)]:
            result = await loop.run_in_executor(self._pool, self._backup, device, poller_id)
        if result is not None and self._metrics is not None:
            for change in result.changes:
                self._metrics.change_events.labels(change.category, change.kind).inc()
        return result

    def _backup(self, device: SshDevice, poller_id: str | None) -> BackupResult | None:
        """In a worker: claim, back up, update the view; None when another replica has the device."""
        claimed = claim_device(self._sessions, device, poller_id, self._takeover_after)
        if not claimed.ours:
            self._view.forget(claimed.device_id)
            log.debug("SSH device %s is backed up by another replica", store_address(device))
            return None
        result = backup_device(self._sessions, self._config, device, claimed)
        self._view.record(
            claimed.name, result.status, changed=result.config_changed, error_kind=result.error_kind
        )
        return result

"""The composition root: everything a running collector holds, built once from the config — the
store, the secrets, the in-memory views with their exporters, and every service in start order.

Adding a service is one entry in :func:`build_services`; nothing else starts or stops anything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from collector.agents.distribution import Distribution
from collector.agents.fleet import Fleet
from collector.agents.fleet_sync import FleetSync
from collector.agents.ingest import Ingest
from collector.agents.local_agent import LocalAgent
from collector.config import CollectorConfig
from collector.metrics.exporters.discovery import DiscoveryCollector
from collector.metrics.exporters.fleet import FleetCollector
from collector.metrics.exporters.snmp import DeviceCollector
from collector.metrics.exporters.ssh import BackupCollector
from collector.metrics.instruments import CollectorMetrics
from collector.notify.digest import DigestSchedule
from collector.services import Service, ServiceRunner
from collector.sources.discovery.schedule import DiscoveryPolling
from collector.sources.discovery.view import DiscoveryView
from collector.sources.snmp.schedule import SnmpPolling
from collector.sources.snmp.view import DeviceView
from collector.sources.ssh.schedule import SshPolling
from collector.sources.ssh.view import BackupView
from collector.store.db import make_engine, make_sessionmaker, migrate, sqlite_url

log = logging.getLogger(__name__)


def read_or_create_secret(path: Path) -> tuple[str, bool]:
    """A secret kept in a 0600 file under the data dir; created on first start. Returns (secret, created)."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(secret + "\n")
    return secret, True


def make_poller_id() -> str:
    """A replica's name in poll claims: host, process and a random part (unique across restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class Runtime:
    config: CollectorConfig
    engine: Engine
    sessions: sessionmaker[Session]
    fleet: Fleet
    registry: CollectorRegistry
    metrics: CollectorMetrics
    ingest: Ingest
    admin_token_sha256: bytes
    enrollment_secret: str
    devices: DeviceView = field(default_factory=DeviceView)
    """The polled network devices' last state (SNMP), for ``/metrics`` and the device API."""
    backups: BackupView = field(default_factory=BackupView)
    """The SSH config backups' last state, for ``/metrics``."""
    discovery: DiscoveryView = field(default_factory=DiscoveryView)
    """LAN discovery's last run and unknown devices, for ``/metrics``."""
    poller_id: str = field(default_factory=make_poller_id)
    """This replica's name in the devices' poll claims (shared by SNMP and SSH: a device belongs
    to one replica for both)."""

    services: ServiceRunner = field(default_factory=lambda: ServiceRunner(()))
    """Every long-running part, started and stopped by the HTTP app's lifespan."""
    ssh_backups: SshPolling | None = None
    """For backups asked for through the API (None: no SSH devices configured)."""
    lan_discovery: DiscoveryPolling | None = None
    """For sweeps asked for through the API (None: discovery not configured)."""
    distribution: Distribution | None = None
    """The installers served at ``/downloads/`` (None: ``downloads.directory`` not set)."""

    @property
    def offline_after(self) -> timedelta:
        return timedelta(seconds=self.config.liveness.offline_after_seconds)

    async def start(self) -> None:
        await self.services.start()

    async def stop(self) -> None:
        await self.services.stop()


def database_url(config: CollectorConfig) -> str:
    return os.environ.get("DOZOR_DATABASE_URL") or config.database.url or sqlite_url(config.data_dir)


def build_runtime(config: CollectorConfig) -> Runtime:
    """Open (and migrate) the store, load or create the secrets, wire ingest to metrics."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(database_url(config))
    migrate(engine)
    sessions = make_sessionmaker(engine)

    admin_token = os.environ.get("DOZOR_ADMIN_TOKEN") or config.auth.admin_token
    if admin_token is None:
        token_file = (config.data_dir / "admin.token").resolve()
        admin_token, created = read_or_create_secret(token_file)
        log.info("admin token %s %s", "written to" if created else "read from", token_file)
    enrollment_secret = os.environ.get("DOZOR_ENROLLMENT_SECRET") or config.auth.enrollment_secret
    if enrollment_secret is None:
        enrollment_secret, _ = read_or_create_secret(config.data_dir / "enrollment.secret")

    registry = CollectorRegistry(auto_describe=True)
    metrics = CollectorMetrics(registry)
    fleet = Fleet()
    registry.register(FleetCollector(fleet, config.liveness.offline_after_seconds))
    devices = DeviceView()
    registry.register(DeviceCollector(devices))
    backups = BackupView()
    registry.register(BackupCollector(backups))
    discovery = DiscoveryView()
    registry.register(DiscoveryCollector(discovery))
    ingest = Ingest(
        sessions,
        fleet,
        metrics,
        config.ingest,
        enrollment_secret=enrollment_secret,
        token_cache_seconds=config.auth.token_cache_seconds,
        clock=lambda: datetime.now(UTC),
        require_approval=config.enrollment.require_approval,
        live_after_seconds=config.liveness.offline_after_seconds,
    )
    runtime = Runtime(
        config=config,
        engine=engine,
        sessions=sessions,
        fleet=fleet,
        registry=registry,
        metrics=metrics,
        ingest=ingest,
        admin_token_sha256=hashlib.sha256(admin_token.encode()).digest(),
        enrollment_secret=enrollment_secret,
        devices=devices,
        backups=backups,
        discovery=discovery,
    )
    if config.ssh.devices:
        runtime.ssh_backups = SshPolling(config.ssh, sessions, backups, runtime.poller_id, metrics)
    if config.discovery.subnets or not config.discovery.auto_accept:
        runtime.lan_discovery = DiscoveryPolling(
            config.discovery,
            sessions,
            discovery,
            runtime.poller_id,
            metrics,
            hold_every_seconds=config.liveness.resync_seconds,
        )
    if config.downloads.directory is not None:
        runtime.distribution = Distribution(config.downloads.directory)
    runtime.services = ServiceRunner(build_services(runtime))
    return runtime


def build_services(runtime: Runtime) -> list[Service]:
    """Every long-running part the config asks for, in start order (they stop in reverse: the
    local agent's last report is committed before ingest stops)."""
    config, sessions = runtime.config, runtime.sessions
    wanted: list[Service | None] = [
        FleetSync(sessions, runtime.fleet, config.liveness.resync_seconds),
        runtime.ingest,
        LocalAgent(config, runtime.enrollment_secret) if config.local_agent else None,
        DigestSchedule(config.digest, sessions, runtime.offline_after) if config.digest.enabled else None,
        SnmpPolling(config.snmp, sessions, runtime.devices, runtime.metrics, poller_id=runtime.poller_id)
        if config.snmp.devices
        else None,
        runtime.ssh_backups,
        runtime.lan_discovery,
    ]
    return [service for service in wanted if service is not None]

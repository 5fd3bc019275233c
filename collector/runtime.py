"""Everything a running collector holds, built once from the config: database, secrets, ingest,
fleet view and metrics registry."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from collector.backup_view import BackupView
from collector.config import CollectorConfig
from collector.device_view import DeviceView
from collector.discovery_view import DiscoveryView
from collector.fleet import Fleet, host_state_from_row
from collector.ingest import Ingest
from collector.metrics import (
    BackupCollector,
    CollectorMetrics,
    DeviceCollector,
    DiscoveryCollector,
    FleetCollector,
)
from collector.store.db import make_engine, make_sessionmaker, migrate, sqlite_url
from collector.store.queries import fleet_rows

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

    @property
    def offline_after(self) -> timedelta:
        return timedelta(seconds=self.config.liveness.offline_after_seconds)

    def reload_fleet(self, seen_since: datetime | None = None) -> int:
        """Rebuild the in-memory fleet view from the store: all of it, or merge in the hosts seen
        since ``seen_since`` (what other replicas received); returns how many hosts were read."""
        with self.sessions() as session:
            # FleetRow's fields are host_state_from_row's parameters, by design.
            states = [
                host_state_from_row(**msgspec.structs.asdict(row)) for row in fleet_rows(session, seen_since)
            ]
        if seen_since is None:
            self.fleet.replace_all(states)
        else:
            self.fleet.merge(states)
        return len(states)


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
    )
    return Runtime(
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

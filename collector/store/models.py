"""ORM models. Every source of facts (agent report, SNMP poll, SSH poll, discovery) writes to the
same ``devices`` row kind and the same ``change_events`` history; only the store package talks SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# None is stored as SQL NULL (not the JSON text 'null'), so "never received" can be queried as IS NULL.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY
TEXT_MAX = 1024
"""``agent.schema.report.Text`` bound: a column holding a report string must take that many characters."""


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC that always comes back timezone-aware: SQLite keeps no zone, and
    mixing naive and aware datetimes would break every "is it online" comparison."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store functions take timezone-aware times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Device(Base):
    """Anything Dozor knows: an office PC with an agent (kind ``pc``), later switches, printers, UPSes
    and devices found on the LAN."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    machine_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    """Stable identity of an agent's PC (/etc/machine-id, MachineGuid); NULL for other kinds."""
    hostname: Mapped[str] = mapped_column(String(TEXT_MAX))
    lifecycle: Mapped[str] = mapped_column(String(16), default="accepted")
    pending_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """An agent's PC enrolled under ``enrollment.require_approval`` and not yet approved: its
    reports are stored and it is flagged in the API and metrics."""
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)

    agent_version: Mapped[str | None] = mapped_column(String(64))
    schema_version: Mapped[int | None] = mapped_column(Integer)
    """The report schema version the agent last sent (``agent.schema.report.SCHEMA_VERSION``)."""
    hardware_uuid: Mapped[str | None] = mapped_column(String(64))
    """The SMBIOS UUID the PC's agent enrolled with: with ``machine_id`` it tells apart PCs imaged
    from one master (which share MachineGuid)."""
    clone_of: Mapped[int | None] = mapped_column(Id)
    """A PC that enrolled with the machine id of another live PC (a clone): that PC's device id."""
    clone_conflict: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Set on both PCs of a clone pair: exported as ``dozor_host_clone_conflict`` until resolved."""
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    """Highest report sequence number accepted from the agent: replays at or below it are duplicates.
    Back to 0 when the agent enrolls again (a reinstalled agent counts from 1)."""
    reports_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    seq_gaps: Mapped[int] = mapped_column(BigInteger, default=0)
    """Reports the agent numbered but the collector never received (spool overflow on the PC)."""

    facts: Mapped[dict[str, Any] | None] = mapped_column(Json)
    """The last full inventory (for a PC: ``agent.schema.Inventory`` as JSON), where a value the
    latest probes failed to collect keeps its last known value (``collector.inventory.reconcile``)."""
    facts_hash: Mapped[str | None] = mapped_column(String(64))
    facts_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    health: Mapped[dict[str, Any] | None] = mapped_column(Json)
    """The last health sample (``agent.schema.Health`` as JSON)."""
    health_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    probe_errors: Mapped[list[dict[str, Any]] | None] = mapped_column(Json)

    address: Mapped[str | None] = mapped_column(String(255), index=True, unique=True)
    """Where a polled device (SNMP) answers: the configured IP literal or hostname; NULL for agents."""
    display_name: Mapped[str | None] = mapped_column(String(256))
    """The name an administrator gave the device in the config (``snmp.devices[].name``)."""
    location: Mapped[str | None] = mapped_column(String(256))
    site_group: Mapped[str | None] = mapped_column(String(256))
    """The configured ``group`` (a site, a floor, a department)."""
    poll_claimed_by: Mapped[str | None] = mapped_column(String(128))
    """The collector replica that polls this device (``collector.store.devices.claim_poll``)."""
    poll_claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    mac: Mapped[str | None] = mapped_column(String(17), index=True, unique=True)
    """A device found by LAN discovery (kind ``discovered``): its MAC, the identity it has there;
    NULL for other kinds (their MACs are in their facts) and for hosts seen by ICMP only."""
    ip: Mapped[str | None] = mapped_column(String(45))
    """A discovered device's last seen IPv4 address."""
    responsible_person: Mapped[str | None] = mapped_column(String(256))
    """Who answers for the device in operation (set when it is accepted or annotated)."""
    inventory_number: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)

    tokens: Mapped[list[AgentToken]] = relationship(back_populates="device", cascade="all, delete-orphan")
    software: Mapped[list[InstalledSoftware]] = relationship(
        back_populates="device", cascade="all, delete-orphan"
    )


class AgentToken(Base):
    """Per-agent bearer token; only its SHA-256 is stored."""

    __tablename__ = "agent_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    device_id: Mapped[int] = mapped_column(Id, ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    device: Mapped[Device] = relationship(back_populates="tokens")


class InstalledSoftware(Base):
    """One installed package on one PC: the fleet software catalogue is a GROUP BY over this table."""

    __tablename__ = "installed_software"
    __table_args__ = (Index("ix_installed_software_name_version", "name", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    device_id: Mapped[int] = mapped_column(Id, ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(TEXT_MAX))
    version: Mapped[str | None] = mapped_column(String(TEXT_MAX))
    publisher: Mapped[str | None] = mapped_column(String(TEXT_MAX))
    source: Mapped[str] = mapped_column(String(32))
    architecture: Mapped[str | None] = mapped_column(String(TEXT_MAX))
    install_date: Mapped[str | None] = mapped_column(String(TEXT_MAX))

    device: Mapped[Device] = relationship(back_populates="software")


class ChangeEvent(Base):
    """One fact that changed on one device, with its old and new value."""

    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    device_id: Mapped[int] = mapped_column(Id, ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    source: Mapped[str] = mapped_column(String(16))
    """Where the fact came from: ``agent``, ``snmp``, ``ssh``, ``discovery``, ``admin``."""
    category: Mapped[str] = mapped_column(String(32))
    """``hardware``, ``software``, ``security``, ``system``."""
    kind: Mapped[str] = mapped_column(String(16))
    """``added``, ``removed``, ``changed``."""
    subject: Mapped[str] = mapped_column(Text)
    """What changed, as a path a person can read: ``hardware.memory.modules[DIMM_A1]``,
    ``software[Mozilla Firefox (registry, x64)]`` (unbounded: it embeds a package name)."""
    old_value: Mapped[Any] = mapped_column(Json, nullable=True)
    new_value: Mapped[Any] = mapped_column(Json, nullable=True)
    summary: Mapped[str] = mapped_column(Text)


class PortLocation(Base):
    """A MAC on a switch's access port for a stretch of time: the current row of a MAC is where it
    is now; earlier rows are where it was (a move closes one row and opens another)."""

    __tablename__ = "port_locations"
    __table_args__ = (Index("ix_port_locations_mac_is_current", "mac", "is_current"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    mac: Mapped[str] = mapped_column(String(17))
    device_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    """The device the MAC belongs to (a PC, a polled device or a discovered one)."""
    switch_id: Mapped[int] = mapped_column(Id, ForeignKey("devices.id", ondelete="CASCADE"))
    port: Mapped[str] = mapped_column(String(256))
    vlan: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    is_current: Mapped[bool] = mapped_column(Boolean)


class LifecycleAction(Base):
    """An administrator accepted, annotated or retired a device: what, who, when, and the values set."""

    __tablename__ = "lifecycle_actions"
    __table_args__ = (Index("ix_lifecycle_actions_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    device_id: Mapped[int] = mapped_column(Id, ForeignKey("devices.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    """``accept``, ``annotate``, ``retire``."""
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    by: Mapped[str] = mapped_column(String(256))
    note: Mapped[str | None] = mapped_column(Text)
    values: Mapped[dict[str, Any] | None] = mapped_column(Json)
    """The fields this action set (name, location, responsible person, inventory number)."""


class Lease(Base):
    """A job only one collector replica may run at a time (the LAN sweep): who holds it, since when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SupplySample(Base):
    """A printer supply's level at one poll, kept when it changed (and once a day when it did not),
    so that "days until empty" can be forecast over months, longer than Prometheus keeps data."""

    __tablename__ = "supply_samples"
    __table_args__ = (Index("ix_supply_samples_device_supply_at", "device_id", "supply", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    device_id: Mapped[int] = mapped_column(Id, ForeignKey("devices.id", ondelete="CASCADE"))
    supply: Mapped[str] = mapped_column(String(TEXT_MAX))
    """The supply's name as the metrics label it (``collector.sources.snmp.supplies.supply_names``)."""
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    percent: Mapped[float] = mapped_column(Float)
    empty_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    """When the supply runs out at the rate seen since it was last replaced, as forecast at this
    sample; NULL when there is not yet enough history or no consumption."""


class ConfigVersion(Base):
    """One running configuration of a network device, stored when its normalised text changed
    (``collector.sources.ssh.normalize_config``). Secrets are stored as the device printed them;
    they are masked where a person reads them (API, CLI, change events)."""

    __tablename__ = "config_versions"
    __table_args__ = (Index("ix_config_versions_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    device_id: Mapped[int] = mapped_column(Id, ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    platform: Mapped[str] = mapped_column(String(64))
    """The CLI platform it was read with: how its secrets are masked and its lines compared."""
    digest: Mapped[str] = mapped_column(String(64))
    """sha256 hex of ``text``."""
    size_bytes: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class SshState(Base):
    """A device's SSH side: its host key trusted on first use, a different key seen since (which
    stops the backups until an administrator accepts it), and the last backup's outcome."""

    __tablename__ = "ssh_states"

    device_id: Mapped[int] = mapped_column(Id, ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    host_key: Mapped[str | None] = mapped_column(Text)
    """``<type> <base64>`` as in known_hosts; NULL until the first session."""
    host_key_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    pending_host_key: Mapped[str | None] = mapped_column(Text)
    """A different key the device presented; NULL when none awaits acceptance."""
    pending_host_key_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error_kind: Mapped[str | None] = mapped_column(String(32))
    """A ``CliError`` kind (``auth_failed``, ``timeout``, ``host_key_changed``…); NULL after a success."""
    last_error_message: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

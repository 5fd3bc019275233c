"""ORM models. Every source of facts (agent report, SNMP poll, SSH poll, discovery) writes to the
same ``devices`` row kind and the same ``change_events`` history; only the store package talks SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")
UtcDateTime = DateTime(timezone=True)
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


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
    hostname: Mapped[str] = mapped_column(String(255))
    lifecycle: Mapped[str] = mapped_column(String(16), default="accepted")
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)

    agent_version: Mapped[str | None] = mapped_column(String(64))
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    """Highest report sequence number accepted from the agent: replays at or below it are duplicates."""
    reports_accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    seq_gaps: Mapped[int] = mapped_column(BigInteger, default=0)
    """Reports the agent numbered but the collector never received (spool overflow on the PC)."""

    facts: Mapped[dict[str, Any] | None] = mapped_column(Json)
    """The last full inventory (for a PC: ``agent.schema.Inventory`` as JSON)."""
    facts_hash: Mapped[str | None] = mapped_column(String(64))
    facts_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    health: Mapped[dict[str, Any] | None] = mapped_column(Json)
    """The last health sample (``agent.schema.Health`` as JSON)."""
    health_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    probe_errors: Mapped[list[dict[str, Any]] | None] = mapped_column(Json)

    tokens: Mapped[list[AgentToken]] = relationship(back_populates="device", cascade="all, delete-orphan")
    software: Mapped[list[InstalledSoftware]] = relationship(
        back_populates="device", cascade="all, delete-orphan"
    )


class AgentToken(Base):
    """Per-agent bearer token; only its SHA-256 is stored."""

    __tablename__ = "agent_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    device: Mapped[Device] = relationship(back_populates="tokens")


class InstalledSoftware(Base):
    """One installed package on one PC: the fleet software catalogue is a GROUP BY over this table."""

    __tablename__ = "installed_software"
    __table_args__ = (Index("ix_installed_software_name_version", "name", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(1024))
    version: Mapped[str | None] = mapped_column(String(1024))
    publisher: Mapped[str | None] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(32))
    architecture: Mapped[str | None] = mapped_column(String(64))
    install_date: Mapped[str | None] = mapped_column(String(64))

    device: Mapped[Device] = relationship(back_populates="software")


class ChangeEvent(Base):
    """One fact that changed on one device, with its old and new value."""

    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_device_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    source: Mapped[str] = mapped_column(String(16))
    """Where the fact came from: ``agent``, ``snmp``, ``ssh``, ``discovery``, ``admin``."""
    category: Mapped[str] = mapped_column(String(32))
    """``hardware``, ``software``, ``security``, ``system``."""
    kind: Mapped[str] = mapped_column(String(16))
    """``added``, ``removed``, ``changed``."""
    subject: Mapped[str] = mapped_column(String(1024))
    """What changed, as a path a person can read: ``memory.modules[DIMM_A1]``, ``software[firefox]``."""
    old_value: Mapped[Any] = mapped_column(Json, nullable=True)
    new_value: Mapped[Any] = mapped_column(Json, nullable=True)
    summary: Mapped[str] = mapped_column(Text)

"""What the daily digest reads from the store: PCs with their liveness and protection, polled devices
with their last answer, the latest supply forecasts and the day's changes. Plain reads of existing
tables, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from msgspec import Struct
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.store.models import ChangeEvent, Device, SupplySample
from collector.store.queries import AGENT_KIND


class PcRow(Struct, kw_only=True):
    hostname: str
    last_seen_at: datetime
    security: dict[str, Any] | None
    """The ``security`` section of the last inventory; None until one arrived."""


class PolledDeviceRow(Struct, kw_only=True):
    name: str
    kind: str
    address: str
    location: str | None
    last_success_at: datetime | None
    """When the device last answered a poll; None if it never did."""


class SupplyRow(Struct, kw_only=True):
    device: str
    location: str | None
    supply: str
    percent: float
    empty_at: datetime | None


class ChangeRow(Struct, kw_only=True):
    device: str
    at: datetime
    category: str
    kind: str
    summary: str


def pcs(session: Session) -> list[PcRow]:
    """Every PC with an agent, by hostname, without the software lists."""
    rows = session.execute(
        select(Device.hostname, Device.last_seen_at, Device.facts["security"])
        .where(Device.kind == AGENT_KIND)
        .order_by(Device.hostname, Device.id)
    )
    return [PcRow(hostname=row[0], last_seen_at=row[1], security=row[2]) for row in rows]


def polled_devices(session: Session) -> list[PolledDeviceRow]:
    """Every device polled by address (SNMP, SSH), by name."""
    name = func.coalesce(Device.display_name, Device.hostname)
    rows = session.execute(
        select(name, Device.kind, Device.address, Device.location, Device.facts_at)
        .where(Device.address.is_not(None))
        .order_by(name, Device.id)
    )
    return [
        PolledDeviceRow(name=row[0], kind=row[1], address=row[2], location=row[3], last_success_at=row[4])
        for row in rows
    ]


def latest_supplies(session: Session) -> list[SupplyRow]:
    """Each sampled supply's newest sample (level and forecast), by device and supply."""
    newest = (
        select(func.max(SupplySample.id))
        .group_by(SupplySample.device_id, SupplySample.supply)
        .scalar_subquery()
    )
    name = func.coalesce(Device.display_name, Device.hostname)
    rows = session.execute(
        select(name, Device.location, SupplySample.supply, SupplySample.percent, SupplySample.empty_at)
        .join(Device, Device.id == SupplySample.device_id)
        .where(SupplySample.id.in_(newest))
        .order_by(name, SupplySample.supply)
    )
    return [
        SupplyRow(device=row[0], location=row[1], supply=row[2], percent=row[3], empty_at=row[4])
        for row in rows
    ]


def changes_between(session: Session, since: datetime, until: datetime) -> list[ChangeRow]:
    """Changes recorded in [since, until), oldest first."""
    rows = session.execute(
        select(
            func.coalesce(Device.display_name, Device.hostname),
            ChangeEvent.at,
            ChangeEvent.category,
            ChangeEvent.kind,
            ChangeEvent.summary,
        )
        .join(Device, Device.id == ChangeEvent.device_id)
        .where(ChangeEvent.at >= since, ChangeEvent.at < until)
        .order_by(ChangeEvent.at, ChangeEvent.id)
    )
    return [ChangeRow(device=row[0], at=row[1], category=row[2], kind=row[3], summary=row[4]) for row in rows]

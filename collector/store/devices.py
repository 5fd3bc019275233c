"""Network devices of every source: find or create a device's row, claim it for one replica's
polls, list and read them."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.store.models import Device


def facts_hash(facts: dict[str, Any]) -> str:
    return hashlib.sha256(msgspec.json.encode(facts, order="sorted")).hexdigest()


def ensure_device(
    session: Session,
    address: str,
    kind: str | None,
    name: str | None,
    tried_at: datetime,
    *,
    location: str | None = None,
    group: str | None = None,
) -> int:
    """The id of the device at ``address``, creating a row without facts for a configured device
    that has not answered yet (so it can carry an error state). Stores no facts and no events;
    an existing row keeps its seen times. Does not commit.

    Two replicas creating the same device at once: the loser's insert is undone (a savepoint) and
    it takes the winner's row."""
    device = session.scalar(select(Device).where(Device.address == address))
    if device is None:
        try:
            with session.begin_nested():
                device = Device(
                    kind=kind or "other",
                    hostname=name or address,
                    address=address,
                    first_seen_at=tried_at,
                    last_seen_at=tried_at,
                )
                session.add(device)
        except IntegrityError:
            device = session.scalars(select(Device).where(Device.address == address)).one()
    device.display_name = name
    device.location = location
    device.site_group = group
    session.flush()
    return device.id


def claim_poll(
    session: Session, device_id: int, poller: str, now: datetime, takeover_after: timedelta
) -> bool:
    """Whether ``poller`` (a collector replica) is the one to poll the device now. Does not commit.

    Replicas share one configuration, so each would poll every device; instead a device sticks to
    the replica that claimed it, and another takes it over only when the claim is older than
    ``takeover_after`` (its poller stopped). One conditional UPDATE: the database picks the winner.
    """
    claimed = session.execute(
        update(Device)
        .where(
            Device.id == device_id,
            or_(
                Device.poll_claimed_by.is_(None),
                Device.poll_claimed_by == poller,
                Device.poll_claimed_at < now - takeover_after,
            ),
        )
        .values(poll_claimed_by=poller, poll_claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


class DeviceRow(msgspec.Struct, kw_only=True):
    """A polled device as the store keeps it; ``facts`` only when asked for one device."""

    id: int
    kind: str
    hostname: str
    name: str | None
    address: str
    location: str | None
    group: str | None
    first_seen_at: datetime
    last_success_at: datetime | None
    """When facts were last stored (the last poll the device answered)."""
    facts: dict[str, Any] | None = None


_ROW_COLUMNS = (
    Device.id,
    Device.kind,
    Device.hostname,
    Device.display_name,
    Device.address,
    Device.location,
    Device.site_group,
    Device.first_seen_at,
    Device.facts_at,
)
"""DeviceRow's fields in order (``facts`` aside)."""


def _device_row(row: Sequence[Any], facts: dict[str, Any] | None = None) -> DeviceRow:
    device_id, kind, hostname, name, address, location, group, first_seen_at, facts_at = row[:9]
    return DeviceRow(
        id=device_id,
        kind=kind,
        hostname=hostname,
        name=name,
        address=address,
        location=location,
        group=group,
        first_seen_at=first_seen_at,
        last_success_at=facts_at,
        facts=facts,
    )


def list_devices(session: Session) -> list[DeviceRow]:
    """Every polled device (those with an address), by name; without the facts documents."""
    rows = session.execute(
        select(*_ROW_COLUMNS).where(Device.address.is_not(None)).order_by(Device.hostname, Device.id)
    )
    return [_device_row(row) for row in rows]


def get_device(session: Session, device_id: int) -> DeviceRow | None:
    row = session.execute(
        select(*_ROW_COLUMNS, Device.facts).where(Device.id == device_id, Device.address.is_not(None))
    ).one_or_none()
    return None if row is None else _device_row(row, facts=row[9] or {})

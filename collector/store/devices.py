"""Storing one poll of a network device (SNMP now; SSH later): find or create its row, merge the
facts through the one diff path and record what changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.inventory import SNMP_RULES, Change, reconcile, supply_replacements
from collector.store.models import Device
from collector.store.reports import record_changes
from collector.store.supplies import record_supply_levels

KINDS = ("switch", "printer", "ups", "other")
SWITCH_MIN_INTERFACES = 8
"""A device without a forwarding table but with at least this many interfaces is taken for a switch."""


@dataclass(frozen=True, slots=True)
class PollOutcome:
    device_id: int
    changes: list[Change] = field(default_factory=list)
    """Change events recorded for this poll."""
    created: bool = False
    supply_empty_at: dict[str, datetime | None] = field(default_factory=dict)
    """Supply name → when it runs out at its current rate (``collector.store.supplies``)."""


def guess_kind(facts: dict[str, Any]) -> str:
    """What a device is, from what it answered: supplies → printer, UPS-MIB → ups, a forwarding
    table or many interfaces → switch."""
    if facts.get("supplies") or facts.get("printer"):
        return "printer"
    if facts.get("ups"):
        return "ups"
    if facts.get("fdb") or len(facts.get("interfaces") or ()) >= SWITCH_MIN_INTERFACES:
        return "switch"
    return "other"


def facts_hash(facts: dict[str, Any]) -> str:
    return hashlib.sha256(msgspec.json.encode(facts, order="sorted")).hexdigest()


def apply_poll(
    session: Session,
    address: str,
    kind: str | None,
    name: str | None,
    facts: dict[str, Any],
    polled_at: datetime,
    source: str = "snmp",
    *,
    location: str | None = None,
    group: str | None = None,
) -> PollOutcome:
    """Store one poll of the device at ``address`` (as configured). Does not commit.

    ``kind`` comes from the config; None: guessed from the facts (a device keeps a kind once known
    unless the config names one). ``facts`` is a poller's facts by section; a missing section (a
    failed part of the poll) keeps its last known value and yields no event.
    """
    device = session.scalar(select(Device).where(Device.address == address).with_for_update())
    system = facts.get("system") or {}
    sys_name = system.get("name") if isinstance(system.get("name"), str) and system.get("name") else None
    if device is None:
        merged, changes = reconcile(None, facts, SNMP_RULES)
        device = Device(
            kind=kind or guess_kind(facts),
            hostname=sys_name or name or address,
            address=address,
            first_seen_at=polled_at,
            last_seen_at=polled_at,
        )
        session.add(device)
        created = True
    else:
        merged, changes = reconcile(device.facts, facts, SNMP_RULES)
        changes += supply_replacements(device.facts, facts)
        if kind:
            device.kind = kind
        elif device.kind == "other":
            device.kind = guess_kind(merged)
        if sys_name:
            device.hostname = sys_name
        elif name and device.hostname == device.address:
            device.hostname = name
        device.last_seen_at = max(device.last_seen_at, polled_at)
        created = False
    device.display_name = name
    device.location = location
    device.site_group = group
    if merged != device.facts:
        device.facts = merged
        device.facts_hash = facts_hash(merged)
    device.facts_at = polled_at
    session.flush()
    record_changes(session, device.id, source, polled_at, changes)
    forecasts = record_supply_levels(session, device.id, facts.get("supplies") or (), polled_at)
    return PollOutcome(device.id, changes, created, forecasts)


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


def list_devices(session: Session) -> list[DeviceRow]:
    """Every polled device (those with an address), by name; without the facts documents."""
    rows = session.execute(
        select(
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
        .where(Device.address.is_not(None))
        .order_by(Device.hostname, Device.id)
    )
    return [
        DeviceRow(
            id=row[0],
            kind=row[1],
            hostname=row[2],
            name=row[3],
            address=row[4],
            location=row[5],
            group=row[6],
            first_seen_at=row[7],
            last_success_at=row[8],
        )
        for row in rows
    ]


def get_device(session: Session, device_id: int) -> DeviceRow | None:
    device = session.get(Device, device_id)
    if device is None or device.address is None:
        return None
    return DeviceRow(
        id=device.id,
        kind=device.kind,
        hostname=device.hostname,
        name=device.display_name,
        address=device.address,
        location=device.location,
        group=device.site_group,
        first_seen_at=device.first_seen_at,
        last_success_at=device.facts_at,
        facts=device.facts or {},
    )

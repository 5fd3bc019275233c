"""Storing one poll of a network device (SNMP now; SSH later): find or create its row, merge the
facts through the one diff path and record what changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector.inventory import SNMP_RULES, Change, reconcile, supply_replacements
from collector.store.models import Device
from collector.store.reports import record_changes

KINDS = ("switch", "printer", "ups", "other")
SWITCH_MIN_INTERFACES = 8
"""A device without a forwarding table but with at least this many interfaces is taken for a switch."""


@dataclass(frozen=True, slots=True)
class PollOutcome:
    device_id: int
    changes: list[Change] = field(default_factory=list)
    """Change events recorded for this poll."""
    created: bool = False


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
    return PollOutcome(device.id, changes, created)

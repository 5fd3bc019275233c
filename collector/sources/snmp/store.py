"""Storing one SNMP poll: the device's row and facts through the one diff path, and the printer
supply history (a sample when a level changes, and once a day when it does not, with the "runs
out at" forecast made when the sample is taken, so a poll reads it back in one query)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from collector.inventory import SNMP_RULES, Change, reconcile, supply_replacements
from collector.sources.snmp.supplies import forecast_empty_at, supply_names
from collector.store.devices import facts_hash
from collector.store.models import Device, SupplySample
from collector.store.reports import record_changes

SAMPLE_EVERY = timedelta(days=1)
"""An unchanged level is sampled again after this long, so idle days flatten the forecast."""
HISTORY = timedelta(days=400)
"""Samples older than this are deleted: more than a year of any cartridge's life."""


@dataclass(frozen=True, slots=True)
class PollOutcome:
    device_id: int
    changes: list[Change] = field(default_factory=list)
    """Change events recorded for this poll."""
    created: bool = False
    supply_empty_at: dict[str, datetime | None] = field(default_factory=dict)
    """Supply name → when it runs out at its current rate (:func:`record_supply_levels`)."""


SWITCH_MIN_INTERFACES = 8
"""A device without a forwarding table but with at least this many interfaces is taken for a switch."""


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


def record_supply_levels(
    session: Session, device_id: int, supplies: Sequence[Mapping[str, Any]], at: datetime
) -> dict[str, datetime | None]:
    """Sample the supplies that report a real percent; name → forecast "empty at". Does not commit."""
    levels = {
        name: float(supply["percent"])
        for name, supply in zip(supply_names(supplies), supplies, strict=True)
        if isinstance(supply.get("percent"), int | float)
    }
    if not levels:
        return {}
    latest = _latest_samples(session, device_id)
    forecasts: dict[str, datetime | None] = {}
    sampled = False
    for name, percent in levels.items():
        last = latest.get(name)
        if last is not None and (at <= last.at or (last.percent == percent and at - last.at < SAMPLE_EVERY)):
            forecasts[name] = last.empty_at
            continue
        history = session.execute(
            select(SupplySample.at, SupplySample.percent)
            .where(
                SupplySample.device_id == device_id,
                SupplySample.supply == name,
                SupplySample.at >= at - HISTORY,
            )
            .order_by(SupplySample.at)
        )
        empty_at = forecast_empty_at([*((row.at, row.percent) for row in history), (at, percent)])
        session.add(SupplySample(device_id=device_id, supply=name, at=at, percent=percent, empty_at=empty_at))
        forecasts[name] = empty_at
        sampled = True
    if sampled:
        session.execute(
            delete(SupplySample).where(SupplySample.device_id == device_id, SupplySample.at < at - HISTORY)
        )
    return forecasts


def _latest_samples(session: Session, device_id: int) -> dict[str, SupplySample]:
    newest = (
        select(func.max(SupplySample.id))
        .where(SupplySample.device_id == device_id)
        .group_by(SupplySample.supply)
        .scalar_subquery()
    )
    samples = session.scalars(select(SupplySample).where(SupplySample.id.in_(newest)))
    return {sample.supply: sample for sample in samples}


class SupplyHistory(msgspec.Struct, kw_only=True):
    supply: str
    samples: list[tuple[datetime, float]]
    """(time, percent), oldest first."""
    empty_at: datetime | None
    """The latest forecast of when the supply runs out."""


def supply_history(session: Session, device_id: int, since: datetime) -> list[SupplyHistory]:
    """Every sampled supply of one device since ``since``, by name."""
    rows = session.execute(
        select(SupplySample.supply, SupplySample.at, SupplySample.percent, SupplySample.empty_at)
        .where(SupplySample.device_id == device_id, SupplySample.at >= since)
        .order_by(SupplySample.supply, SupplySample.at)
    )
    history: dict[str, SupplyHistory] = {}
    for row in rows:
        entry = history.setdefault(row.supply, SupplyHistory(supply=row.supply, samples=[], empty_at=None))
        entry.samples.append((row.at, row.percent))
        entry.empty_at = row.empty_at
    return list(history.values())

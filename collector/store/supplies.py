"""Printer supply history: a sample when a level changes (and once a day when it does not), with
the "runs out at" forecast made when the sample is taken, so a poll reads it back in one query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from collector.store.models import SupplySample
from collector.supplies import forecast_empty_at, supply_names

SAMPLE_EVERY = timedelta(days=1)
"""An unchanged level is sampled again after this long, so idle days flatten the forecast."""
HISTORY = timedelta(days=400)
"""Samples older than this are deleted: more than a year of any cartridge's life."""


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

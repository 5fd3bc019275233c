"""Printer supplies over time: their names, and when each runs out at the rate it is being used.

Pure functions: the store keeps the samples (``collector.sources.snmp.store``), this module reads them.
A toner lasts months, longer than Prometheus usually keeps data, so the forecast is made from the
collector's own history: a least-squares line through the levels since the supply was last replaced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from collector.inventory import SUPPLY_REPLACED

MIN_SPAN = timedelta(days=1)
"""Less history than this since a replacement gives no forecast: a day's printing is too noisy."""
MIN_USE_PER_DAY = 0.05
"""Slower consumption (percentage points a day) reads as "not being used", not as a date years away."""
HORIZON = timedelta(days=3 * 365)
"""Forecasts further out than this are dropped as meaningless."""


def supply_names(supplies: Sequence[Mapping[str, Any]]) -> list[str]:
    """A stable, readable name per supply (its description), numbered where two read alike."""
    names: list[str] = []
    seen: set[tuple[str, str]] = set()
    for supply in supplies:
        name = str(supply.get("description") or supply.get("type") or f"supply {supply.get('supply')}")
        colour = str(supply.get("colour") or "")
        if (name, colour) in seen:
            name = f"{name} #{supply.get('supply')}"
        seen.add((name, colour))
        names.append(name)
    return names


def since_replacement(samples: Sequence[tuple[datetime, float]]) -> Sequence[tuple[datetime, float]]:
    """The samples (oldest first) since the last jump up that means a new cartridge."""
    rise, full = SUPPLY_REPLACED
    start = 0
    for index in range(1, len(samples)):
        before, now = samples[index - 1][1], samples[index][1]
        if now >= full and now - before >= rise:
            start = index
    return samples[start:]


def forecast_empty_at(samples: Sequence[tuple[datetime, float]]) -> datetime | None:
    """When the level reaches 0 on the least-squares line through the samples since the last
    replacement (oldest first); None without a day of history or with no real consumption."""
    current = since_replacement(samples)
    if len(current) < 2 or current[-1][0] - current[0][0] < MIN_SPAN:
        return None
    origin = current[0][0]
    days = [(at - origin).total_seconds() / 86_400 for at, _ in current]
    levels = [percent for _, percent in current]
    mean_day, mean_level = sum(days) / len(days), sum(levels) / len(levels)
    spread = sum((day - mean_day) ** 2 for day in days)
    covariance = sum((day - mean_day) * (level - mean_level) for day, level in zip(days, levels, strict=True))
    slope = covariance / spread
    if slope > -MIN_USE_PER_DAY:
        return None
    zero_day = mean_day - mean_level / slope
    empty_at = origin + timedelta(days=zero_day)
    if empty_at - current[-1][0] > HORIZON:
        return None
    return max(empty_at, current[-1][0]) if levels[-1] > 0 else current[-1][0]


def days_until(empty_at: datetime | None, now: datetime) -> float | None:
    """Days from ``now`` to a forecast date, 0 once it has passed."""
    if empty_at is None:
        return None
    return round(max((empty_at - now).total_seconds() / 86_400, 0.0), 1)

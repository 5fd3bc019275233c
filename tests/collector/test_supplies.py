"""Printer supply history and the "days until empty" forecast: the pure forecast, then the samples
the store keeps (SQLite and PostgreSQL), polled like a printer used for weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector.sources.snmp.store import HISTORY, apply_poll, supply_history
from collector.sources.snmp.supplies import days_until, forecast_empty_at, supply_names
from collector.store.models import SupplySample

START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def _days(levels: list[float], step_days: float = 1.0) -> list[tuple[datetime, float]]:
    return [(START + timedelta(days=i * step_days), level) for i, level in enumerate(levels)]


def test_steady_use_forecasts_the_day_it_runs_out() -> None:
    empty_at = forecast_empty_at(_days([80, 78, 76, 74, 72]))  # 2 points a day, 72 % left on day 4
    assert empty_at == START + timedelta(days=40)
    assert days_until(empty_at, START + timedelta(days=4)) == 36.0


def test_only_the_samples_since_the_last_replacement_count() -> None:
    # an old cartridge used fast, replaced on day 3, the new one used at 1 point a day
    samples = _days([30, 15, 5, 100, 99, 98, 97])
    assert forecast_empty_at(samples) == START + timedelta(days=103)


@pytest.mark.parametrize(
    "samples",
    [
        _days([80]),  # one sample
        _days([80, 79], step_days=0.5),  # less than a day of history
        _days([80, 80, 80, 80]),  # not used
        _days([50, 52, 54]),  # rising (refilled bit by bit, or noise): no date
        _days([90, 89.99, 89.98]),  # so slow it is years away
    ],
)
def test_no_forecast_without_real_consumption(samples: list[tuple[datetime, float]]) -> None:
    assert forecast_empty_at(samples) is None


def test_an_empty_supply_is_empty_now() -> None:
    samples = _days([6, 4, 2, 0])
    assert forecast_empty_at(samples) == samples[-1][0]
    assert days_until(samples[-1][0], samples[-1][0] + timedelta(days=2)) == 0.0


def test_supply_names_are_descriptions_numbered_when_alike() -> None:
    supplies = [
        {"supply": 1, "description": "Toner", "colour": "black"},
        {"supply": 2, "description": "Toner", "colour": "black"},
        {"supply": 3, "description": None, "type": "drum", "colour": None},
        {"supply": 4, "description": None, "type": None, "colour": None},
    ]
    assert supply_names(supplies) == ["Toner", "Toner #2", "drum", "supply 4"]


def _printer(black: float | None, cyan: float | None = 50.0) -> dict[str, Any]:
    def supply(index: int, description: str, colour: str, percent: float | None) -> dict[str, Any]:
        level = None if percent is None else int(percent)
        reason = None if percent is not None else "some_remaining"
        return {
            "device": 1, "supply": index, "description": description, "type": "toner", "class": "consumed",
            "unit": "percent", "colour": colour, "level": level, "max": 100, "percent": percent,
            "percent_reason": reason,
        }

    return {
        "system": {"name": "prn-2-floor", "descr": "Brother"},
        "supplies": [supply(1, "Black Toner", "black", black), supply(2, "Cyan Toner", "cyan", cyan)],
    }


def _poll(sessions: sessionmaker[Session], facts: dict[str, Any], at: datetime) -> dict[str, datetime | None]:
    with sessions.begin() as session:
        return apply_poll(session, "10.1.2.3", "printer", None, facts, at).supply_empty_at


def test_polls_sample_changes_and_one_a_day_and_forecast(sessions: sessionmaker[Session]) -> None:
    # hourly for 20 days; black drops 1.5 points a day (in whole percents), cyan is idle
    polls = [START + timedelta(hours=i) for i in range(20 * 24)]
    forecast: dict[str, datetime | None] = {}
    for at in polls:
        black = float(int(90 - 1.5 * (at - START).total_seconds() / 86_400))
        forecast = _poll(sessions, _printer(black), at)
    with sessions() as session:
        rows = session.execute(select(SupplySample.supply, func.count()).group_by(SupplySample.supply))
        counts = {supply: count for supply, count in rows}
    assert counts["Cyan Toner"] == 20, "an unchanged level: one sample a day"
    assert 30 <= counts["Black Toner"] <= 52, "a sample per change (and per idle day), not per poll"
    empty_at = forecast["Black Toner"]
    assert empty_at is not None and forecast["Cyan Toner"] is None
    assert abs((empty_at - (START + timedelta(days=60))).total_seconds()) < 2 * 86_400  # 90 / 1.5 = 60 days
    assert days_until(empty_at, polls[-1]) == pytest.approx(40, abs=2)


def test_replacement_restarts_the_forecast_and_unknown_levels_are_not_sampled(
    sessions: sessionmaker[Session],
) -> None:
    for day, black in enumerate([20, 15, 10, 5, 100, 98]):
        forecast = _poll(sessions, _printer(black, cyan=None), START + timedelta(days=day))
    assert forecast["Black Toner"] == START + timedelta(days=4 + 50), "2 points a day from 100 on day 4"
    assert "Cyan Toner" not in forecast, "a level of 'some remaining' is not a percent to sample"
    with sessions() as session:
        (history,) = supply_history(session, 1, START)
    assert history.supply == "Black Toner"
    assert [percent for _, percent in history.samples] == [20, 15, 10, 5, 100, 98]
    assert history.empty_at == forecast["Black Toner"]


def test_history_is_bounded_and_late_polls_do_not_rewrite_it(sessions: sessionmaker[Session]) -> None:
    old = START - HISTORY - timedelta(days=10)
    _poll(sessions, _printer(90), old)
    _poll(sessions, _printer(80), START)
    _poll(sessions, _printer(70), START - timedelta(hours=1))  # a replica's late poll: older than the last
    with sessions() as session:
        samples = session.scalars(select(SupplySample.at).where(SupplySample.supply == "Black Toner")).all()
    assert samples == [START], "older than the history window: deleted; out of order: not sampled"

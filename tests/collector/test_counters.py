"""Device counters into monotonic totals: 32-bit wraps, device restarts, width changes, and the
rates the device view shows. A Prometheus ``increase()`` over the exported totals must equal the
traffic the device really counted."""

from __future__ import annotations

from typing import Any

import pytest

from collector.sources.snmp.counters import CounterReading, advance, device_restarted, track_interfaces

WRAP = 2**32


def test_first_reading_starts_the_total_at_zero() -> None:
    assert advance(None, 12345, bits=64, restarted=False) == CounterReading(12345, 0)


def test_increases_add_up() -> None:
    reading = advance(CounterReading(1000, 50), 1600, bits=64, restarted=False)
    assert reading == CounterReading(1600, 650)


def test_a_32_bit_wrap_counts_the_octets_across_it() -> None:
    reading = advance(CounterReading(WRAP - 1000, 7), 500, bits=32, restarted=False)
    assert reading == CounterReading(500, 7 + 1500)


def test_a_decrease_the_port_could_not_have_carried_is_a_reset_not_a_wrap() -> None:
    # from 100 to 50 would be a wrap of ~4.3 GB: impossible on a 100 Mb/s port within 60 s
    reading = advance(CounterReading(100, 10), 50, bits=32, restarted=False, max_increase=100e6 / 8 * 60)
    assert reading == CounterReading(50, 60)


def test_a_small_counter_dropping_to_zero_is_a_reset_even_without_a_speed() -> None:
    assert advance(CounterReading(2, 2), 0, bits=32, restarted=False) == CounterReading(0, 2)


def test_a_64_bit_counter_going_back_is_a_reset() -> None:
    assert advance(CounterReading(10**12, 5), 300, bits=64, restarted=False) == CounterReading(300, 305)


def test_after_a_device_restart_the_new_value_is_what_was_counted_since() -> None:
    # even a value above the last one: the counter began again at 0
    assert advance(CounterReading(100, 10), 150, bits=32, restarted=True) == CounterReading(150, 160)


@pytest.mark.parametrize(
    ("before", "after", "elapsed", "restarted"),
    [
        (500_000, 501_000, 10, False),  # uptime moved on
        (500_000, 1_000, 10, True),  # uptime went back: rebooted
        (WRAP - 300, 700, 10, False),  # the 497-day sysUpTime wrap itself
        (None, 1_000, 10, False),  # nothing to compare with
    ],
)
def test_device_restart_from_sys_up_time(
    before: int | None, after: int, elapsed: float, restarted: bool
) -> None:
    assert device_restarted(before, after, elapsed) is restarted


def _nic(
    in_octets: int | None, *, bits: int = 32, errors: int = 0, speed: int = 1_000_000_000
) -> dict[str, Any]:
    return {
        "if_index": 1,
        "name": "ge1",
        "speed_bps": speed,
        "counter_bits": bits,
        "in_octets": in_octets,
        "out_octets": 0,
        "in_errors": errors,
        "out_errors": 0,
        "in_discards": 0,
        "out_discards": 0,
    }


def _run(samples: list[tuple[dict[str, Any], float, bool]]) -> list[dict[str, Any]]:
    """Feed (interface, seconds since the last poll, restarted) polls; the tracked rows in order."""
    rows: list[dict[str, Any]] = []
    previous: list[dict[str, Any]] = []
    for index, (nic, elapsed, restarted) in enumerate(samples):
        previous = track_interfaces(previous, [nic], elapsed=elapsed if index else None, restarted=restarted)
        rows.append(previous[0])
    return rows


def test_totals_and_rates_through_a_wrap_a_restart_and_a_widening() -> None:
    rows = _run(
        [
            (_nic(WRAP - 3_000_000), 0, False),
            (_nic(WRAP - 1_000_000), 10, False),  # +2 MB in 10 s
            (_nic(1_000_000), 10, False),  # wrapped: +2 MB
            (_nic(400_000, errors=0), 10, True),  # restarted: 400 kB since
            (_nic(900_000, errors=2), 10, False),  # +500 kB, 2 errors
            (_nic(5_000_000_000, bits=64), 10, False),  # ifXTable appeared: new baseline
            (_nic(5_001_000_000, bits=64), 10, False),  # +1 MB
        ]
    )
    totals = [row["in_octets_total"] for row in rows]
    assert totals == [0, 2_000_000, 4_000_000, 4_400_000, 4_900_000, 4_900_000, 5_900_000]
    assert [row["in_bps"] for row in rows] == [None, 1_600_000, 1_600_000, None, 400_000, None, 800_000]
    assert rows[-1]["in_errors_total"] == 2


def test_an_interface_that_stops_answering_a_counter_keeps_its_total() -> None:
    rows = _run([(_nic(raw), 10, False) for raw in (1000, 3000, None, 3500)])
    # the total never goes back; after the gap the counter starts a new baseline (nothing is guessed)
    assert [row["in_octets_total"] for row in rows] == [0, 2000, 2000, 2000]
    assert rows[-1]["in_bps"] is None


def test_a_new_interface_starts_from_zero_and_others_are_matched_on_if_index() -> None:
    first = track_interfaces([], [_nic(100)], elapsed=None, restarted=False)
    second = track_interfaces(first, [_nic(300), {**_nic(7000), "if_index": 2}], elapsed=10, restarted=False)
    assert [row["in_octets_total"] for row in second] == [200, 0]

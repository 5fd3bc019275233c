"""Device counters made monotonic across 32-bit wraps and device restarts, and rates from them.

An SNMP counter is not a Prometheus counter: a Counter32 wraps at 2**32 (every 34 s at 1 Gb/s) and
every counter drops to zero when the device restarts. Prometheus' ``rate()`` takes any decrease for
a reset and adds the new value, which turns a 32-bit wrap into a dip. So the collector keeps, per
interface counter, a running total of what the device counted *since the collector began polling
it*: a decrease is a wrap when the counter is 32-bit, the device did not restart and the implied
traffic fits the port's speed; otherwise it is a restart and the new value is what was counted
since. The exported totals start at 0 when the collector starts, which ``rate()`` handles exactly.

Limits: more than one wrap between two polls cannot be seen (poll 32-bit-only ports often, or let
the device answer ifXTable's 64-bit counters, which the poller prefers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

INTERFACE_COUNTERS = ("in_octets", "out_octets", "in_errors", "out_errors", "in_discards", "out_discards")
"""Interface facts that are device counters (octets follow ``counter_bits``; the rest are 32-bit)."""

RATE_COUNTERS = {"in_octets": "in_bps", "out_octets": "out_bps"}
"""Counters whose rate the device view shows, as bits per second."""

TICKS_PER_SECOND = 100
UPTIME_MODULO = 2**32
"""sysUpTime is TimeTicks (hundredths of a second) and wraps after 497 days."""
WRAP_SLACK = 1.5
"""How much more than line rate a wrap may imply and still count as one (speeds are nominal)."""


@dataclass(frozen=True, slots=True)
class CounterReading:
    raw: int
    """The device's value at the last poll."""
    total: int
    """What the device counted since the collector first read this counter."""


def advance(
    previous: CounterReading | None,
    raw: int,
    *,
    bits: int,
    restarted: bool,
    max_increase: float | None = None,
) -> CounterReading:
    """The reading after a new raw value: its increase added to the total, wraps and resets absorbed.

    ``restarted``: the device restarted since the previous poll (its counters began again at 0).
    ``max_increase``: the most the counter can plausibly have grown (line rate × elapsed; without
    it, half the counter's range); a decrease implying more than that is a reset, not a wrap.
    """
    if previous is None:
        return CounterReading(raw, 0)
    if restarted:
        return CounterReading(raw, previous.total + raw)
    if raw >= previous.raw:
        return CounterReading(raw, previous.total + raw - previous.raw)
    wrapped = 2**bits - previous.raw + raw
    if bits == 32 and wrapped <= (max_increase if max_increase is not None else 2**31):
        return CounterReading(raw, previous.total + wrapped)
    return CounterReading(raw, previous.total + raw)


def device_restarted(previous_ticks: int | None, ticks: int | None, elapsed: float) -> bool:
    """Whether sysUpTime went back since the last poll, other than by its own 497-day wrap."""
    if previous_ticks is None or ticks is None or ticks >= previous_ticks:
        return False
    expected = previous_ticks + elapsed * TICKS_PER_SECOND
    return expected < UPTIME_MODULO


def track_interfaces(
    previous: Sequence[Mapping[str, Any]],
    current: Sequence[Mapping[str, Any]],
    *,
    elapsed: float | None,
    restarted: bool,
) -> list[dict[str, Any]]:
    """``current`` interfaces with ``<counter>_total`` for each counter and ``in_bps``/``out_bps``.

    ``previous`` are the interfaces as this function returned them last time (matched on ifIndex);
    ``elapsed`` is the seconds between the two polls (None: no earlier poll). Rates need two
    readings of the same counter width; after a restart or a width change they wait for the next.
    """
    known = {nic.get("if_index"): nic for nic in previous}
    tracked = []
    for nic in current:
        before = known.get(nic.get("if_index"))
        same_width = before is not None and before.get("counter_bits") == nic.get("counter_bits")
        speed = nic.get("speed_bps")
        row = dict(nic)
        for counter in INTERFACE_COUNTERS:
            octets = counter.endswith("octets")
            carried = before.get(f"{counter}_total") if before else None
            raw = nic.get(counter)
            if not isinstance(raw, int):
                row[f"{counter}_total"] = carried
                continue
            last = _reading(before, counter) if same_width or not octets else None
            if last is None and carried is not None:  # 32 ↔ 64-bit switch: a new baseline
                reading = CounterReading(raw, carried)
            else:
                reading = advance(
                    last,
                    raw,
                    bits=nic.get("counter_bits", 32) if octets else 32,
                    restarted=restarted,
                    max_increase=speed / 8 * elapsed * WRAP_SLACK if octets and speed and elapsed else None,
                )
            row[f"{counter}_total"] = reading.total
            if counter in RATE_COUNTERS:
                rate = None
                if last is not None and elapsed and not restarted:
                    rate = round((reading.total - last.total) * 8 / elapsed, 1)
                row[RATE_COUNTERS[counter]] = rate
        tracked.append(row)
    return tracked


def _reading(nic: Mapping[str, Any] | None, counter: str) -> CounterReading | None:
    """The reading a tracked interface row carries for ``counter``, if any."""
    if nic is None:
        return None
    raw, total = nic.get(counter), nic.get(f"{counter}_total")
    return CounterReading(raw, total) if isinstance(raw, int) and isinstance(total, int) else None

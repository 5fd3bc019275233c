"""Rates survive 32-bit counter wraps, against a real agent: snmpsim's ``numeric`` variation makes
a port's ifInOctets count 1 GB/s and wrap at 2**32 (every ~4 s) while sysUpTime runs on. Polled
like the collector does (the device view tracks the counters), the exported total must grow by
what the port carried, wrap after wrap, and the rate must read 8 Gb/s throughout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

from collector.sources.snmp.poll import Target, poll_device
from collector.sources.snmp.profiles import load_profiles
from collector.sources.snmp.session import Credentials
from collector.sources.snmp.view import DeviceIdentity, DeviceView
from tests.collector.snmp.conftest import Simulator, serve_recordings

VARIATING = Path(__file__).parents[2] / "fixtures" / "snmprec-variating"
BYTES_PER_SECOND = 1e9
"""The ``rate`` of port 1's ifInOctets in the recording."""


@pytest.fixture(scope="module")
def wrapping_switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    with serve_recordings([VARIATING], tmp_path_factory.mktemp("variating")) as simulator:
        yield simulator


def test_totals_and_rates_run_on_through_wraps(wrapping_switch: Simulator) -> None:
    view = DeviceView()
    raws: list[int] = []
    times: list[float] = []

    async def poll_for(seconds: float) -> None:
        engine = SnmpEngine()
        target = Target(host="127.0.0.1", port=wrapping_switch.port, timeout=2.0)
        credentials = Credentials(community="wrapping-32bit")
        identity = DeviceIdentity("127.0.0.1", "wrap-sw", "switch")
        profiles = [p for p in load_profiles() if p.section in ("system", "interfaces")]
        stop = time.monotonic() + seconds
        try:
            while time.monotonic() < stop:
                poll = await poll_device(target, credentials, profiles, 5.0, engine=engine)
                at = time.time()
                view.record_success(1, identity, at=at, facts=poll.facts, part_errors={})
                state = view.get(1)
                assert state is not None
                (port,) = state.interfaces
                raws.append(port["in_octets"])
                times.append(at)
                if len(raws) > 1:
                    assert port["counter_bits"] == 32
                    assert port["in_bps"] == pytest.approx(8 * BYTES_PER_SECOND, rel=0.3), (raws, port)
                await asyncio.sleep(0.7)
        finally:
            engine.close_dispatcher()

    asyncio.run(poll_for(10.0))
    state = view.get(1)
    assert state is not None
    wraps = sum(1 for before, after in pairwise(raws) if after < before)
    assert wraps >= 2, f"the counter should have wrapped at least twice: {raws}"
    carried = state.interfaces[0]["in_octets_total"]
    assert carried == pytest.approx(BYTES_PER_SECOND * (times[-1] - times[0]), rel=0.1)

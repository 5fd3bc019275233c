"""A slow or dead device never delays the others' schedule (issue 3, Behaviour).

The real ``SnmpPolling`` (APScheduler jobs, its semaphore, per-device deadlines, one shared
SnmpEngine, ``apply_poll`` into a migrated SQLite store) polls every second: four APC UPSes served
by snmpsim, each behind a relay port of its own; devices that never answer; and one that answers
every request just before the timeout. The device view is sampled every 20 ms, and every request a
device receives is timestamped, so each poll is seen from its first request (when the schedule let
it start, whatever snmpsim's pace on a busy machine) to the outcome the view recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pysnmp.proto import rfc1902
from sqlalchemy.orm import Session, sessionmaker

from collector.sources import scheduling
from collector.sources.snmp.config import SnmpConfig, SnmpCredential, SnmpDevice
from collector.sources.snmp.profiles import load_profiles
from collector.sources.snmp.schedule import SnmpPolling, device_deadline
from collector.sources.snmp.view import DeviceState, DeviceView
from collector.store.db import make_engine, make_sessionmaker, migrate
from tests.collector.snmp.conftest import Simulator
from tests.collector.snmp.test_hostile_agents import Answer, Responder

INTERVAL = 1.0
"""Seconds between polls (a config file needs 10 s at least; built directly here to stay short)."""
JITTER = 0.1 * INTERVAL
"""What SnmpPolling lets APScheduler add to each interval."""
TIMEOUT = 0.75
RETRIES = 0
DEADLINE = 0.8 * INTERVAL
"""``device_deadline`` of this config: a dead device's 0.75 s wait ends just inside it."""
SLOW_DELAY = 0.7
"""The slow device answers each request this late: the system group comes in time, the answer to
the next request would come after the deadline."""
HEALTHY = 4
WINDOW = 3.5
"""Seconds observed once every healthy device has been polled (the first polls also wait for the
shared engine's one-off start-up)."""
SLACK = 0.3
"""Event-loop lag, store write and sampling on a busy 2-core machine."""
PROFILES = [p for p in load_profiles() if p.name in ("system", "ups", "apc-powernet")]
"""What the APC devices answer: three requests a poll keep snmpsim's share of the cores small."""
LOOPBACK = ("127.0.0.1", 0)
SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
PAST_EVERY_SUBTREE = (1, 3, 6, 1, 6, 3, 1)


class TimedResponder(Responder):
    """A ``Responder`` that notes when each request came and answers ``delay`` seconds later."""

    def __init__(self, answer: Answer, delay: float = 0.0) -> None:
        super().__init__(answer)
        self.delay = delay
        self.arrivals: list[float] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.arrivals.append(time.time())
        asyncio.get_running_loop().call_later(self.delay, super().datagram_received, data, addr)


class Receiver(asyncio.DatagramProtocol):
    """One side of a ``Relay``: hands each datagram to ``received``."""

    def __init__(self, received: Callable[[bytes, tuple[str, int]], None]) -> None:
        self.received = received

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received(data, addr)


class Relay:
    """A device's own port in front of snmpsim (which serves every recording on one port, while
    the collector keys devices by address and port): passes requests on and answers back, noting
    when each request came."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.client: tuple[str, int] | None = None
        self.front: asyncio.DatagramTransport | None = None
        self.back: asyncio.DatagramTransport | None = None

    async def open(self, upstream: int) -> int:
        """Start relaying to snmpsim's ``upstream`` port; returns the device's port."""
        loop = asyncio.get_running_loop()
        self.front, _ = await loop.create_datagram_endpoint(
            lambda: Receiver(self.request), local_addr=LOOPBACK
        )
        self.back, _ = await loop.create_datagram_endpoint(
            lambda: Receiver(self.answer), remote_addr=("127.0.0.1", upstream)
        )
        return self.front.get_extra_info("sockname")[1]

    def request(self, data: bytes, addr: tuple[str, int]) -> None:
        self.arrivals.append(time.time())
        self.client = addr
        if self.back is not None:
            self.back.sendto(data)

    def answer(self, data: bytes, _addr: tuple[str, int]) -> None:
        if self.front is not None and self.client is not None:
            self.front.sendto(data, self.client)

    def close(self) -> None:
        for transport in (self.front, self.back):
            if transport is not None:
                transport.close()


def silence(_oid: tuple[int, ...]) -> None:
    """A device that never answers."""
    return None


def slow_agent(oid: tuple[int, ...]) -> list[tuple[tuple[int, ...], Any]]:
    """Only sysDescr; anything else reads as past every subtree."""
    if oid == SYS_DESCR:
        return [(SYS_DESCR, rfc1902.OctetString(b"slow agent"))]
    return [(PAST_EVERY_SUBTREE, rfc1902.Integer(0))]


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite store."""
    engine = make_engine(f"sqlite+pysqlite:///{tmp_path / 'dozor.sqlite3'}")
    migrate(engine)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def quick_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """First polls within 0.3 s of start instead of 5 s: the test observes seconds, not minutes."""
    monkeypatch.setattr(scheduling, "FIRST_RUN_SPREAD_SECONDS", 0.3)


class Observed:
    """What the view recorded for each device (one state per poll) and when its requests came."""

    def __init__(self) -> None:
        self.states: dict[str, list[DeviceState]] = defaultdict(list)
        self.arrivals: dict[str, list[float]] = {}
        self.window_start = 0.0

    def polls(self, name: str) -> list[tuple[float, DeviceState]]:
        """(first request, recorded outcome) of each poll of ``name`` that sent a request. A poll's
        first request is the first after the previous outcome: a device's next poll never starts
        before its last one ended (and with no retries no request outlives its poll)."""
        arrivals, polls, previous_end = self.arrivals[name], [], 0.0
        for state in self.states[name]:
            assert state.last_attempt is not None
            start = next((at for at in arrivals if previous_end < at <= state.last_attempt), None)
            if start is not None:
                polls.append((start, state))
            previous_end = state.last_attempt
        return polls

    def in_window(self, name: str) -> list[tuple[float, DeviceState]]:
        return [(start, state) for start, state in self.polls(name) if start >= self.window_start]


async def observe(
    simulator: Simulator,
    sessions: sessionmaker[Session],
    dead: int,
    settle_polls: int = 1,
) -> Observed:
    """Run SnmpPolling over ``HEALTHY`` relayed snmpsim devices (our APC recordings in turn),
    ``dead`` silent devices and one slow one, until ``WINDOW`` seconds after every healthy device
    was first polled."""
    loop = asyncio.get_running_loop()
    observed = Observed()
    relays = {f"healthy-{index}": Relay() for index in range(HEALTHY)}
    responders = {f"dead-{index}": TimedResponder(silence) for index in range(dead)}
    responders["slow"] = TimedResponder(slow_agent, SLOW_DELAY)
    transports: list[asyncio.BaseTransport] = []
    try:
        recordings = simulator.recordings["ups"]
        devices = []
        for index, (name, relay) in enumerate(relays.items()):
            port = await relay.open(simulator.port)
            recording = recordings[index % len(recordings)]
            devices.append(
                SnmpDevice(address="127.0.0.1", port=port, credential=recording, name=name, kind="ups")
            )
            observed.arrivals[name] = relay.arrivals
        for name, protocol in responders.items():
            transport, _ = await loop.create_datagram_endpoint(lambda p=protocol: p, local_addr=LOOPBACK)
            transports.append(transport)
            port = transport.get_extra_info("sockname")[1]
            devices.append(SnmpDevice(address="127.0.0.1", port=port, credential="public", name=name))
            observed.arrivals[name] = protocol.arrivals
        config = SnmpConfig(
            credentials={name: SnmpCredential(community=name) for name in [*recordings, "public"]},
            devices=devices,
            interval_seconds=INTERVAL,
            timeout_seconds=TIMEOUT,
            retries=RETRIES,
        )
        assert device_deadline(config) == pytest.approx(DEADLINE)
        view = DeviceView()
        polling = SnmpPolling(config, sessions, view, profiles=PROFILES)
        give_up = time.monotonic() + 15
        await polling.start()
        try:
            while not observed.window_start or time.time() < observed.window_start + WINDOW:
                for state in view.devices():
                    seen = observed.states[state.identity.name]
                    if not seen or seen[-1].last_attempt != state.last_attempt:
                        seen.append(state)
                if not observed.window_start:
                    if all(len(observed.states[name]) >= settle_polls for name in relays):
                        observed.window_start = time.time()
                    elif time.monotonic() > give_up:
                        pytest.fail(f"the healthy devices were never all polled: {dict(observed.states)}")
                await asyncio.sleep(0.02)
        finally:
            await polling.stop()
    finally:
        for relay in relays.values():
            relay.close()
        for transport in transports:
            transport.close()
    return observed


def assert_healthy_on_time(observed: Observed) -> None:
    """Each healthy device starts a poll every interval (plus jitter), never later, and every
    such poll is recorded as a success."""
    starts = {}
    for index in range(HEALTHY):
        polls = observed.in_window(f"healthy-{index}")
        assert all(state.up for _, state in polls), polls
        starts[f"healthy-{index}"] = [round(after - before, 2) for (before, _), (after, _) in pairwise(polls)]
    for name, gaps in starts.items():
        assert len(gaps) >= int(WINDOW / (INTERVAL + JITTER)) - 1, (name, starts)
        assert all(INTERVAL - SLACK <= gap <= INTERVAL + JITTER + SLACK for gap in gaps), (name, starts)


def test_dead_and_slow_devices_do_not_delay_the_healthy_ones(
    own_snmpsim: Simulator, sessions: sessionmaker[Session], quick_start: None
) -> None:
    observed = asyncio.run(observe(own_snmpsim, sessions, dead=6))

    assert_healthy_on_time(observed)
    mains, battery = observed.states["healthy-0"][-1], observed.states["healthy-1"][-1]
    assert mains.ups is not None and mains.ups["on_battery"] is False and mains.ups["replace_battery"] == "no"
    assert battery.ups == {
        "battery_status": "low", "seconds_on_battery": 312.0, "charge_percent": 38, "runtime_minutes": 4.5,
        "replace_battery": "yes", "battery_voltage": 23, "input_voltage": 0, "output_source": "battery",
        "output_voltage": 230, "load_percent": 41, "on_battery": True,
    }  # fmt: skip

    bad = [name for name in observed.arrivals if not name.startswith("healthy-")]
    for name in bad:
        polls = observed.polls(name)
        assert len(polls) >= WINDOW // INTERVAL - 1, (name, polls)  # polled again although each poll fails
        spans = [round(state.last_attempt - start, 2) for start, state in polls[1:]]  # 1st: engine start-up
        assert all(span <= DEADLINE + SLACK for span in spans), (name, spans)
        last = polls[-1][1]
        if name == "slow":  # answered the system group, then ran out of time
            assert last.up and last.last_success is not None
            assert dict(last.part_errors) == {"ups.scalars": "timeout"}
        else:
            assert not last.up and last.last_success is None
            assert last.error_kind == "timeout" and last.poll_errors["timeout"] == len(observed.states[name])


def test_more_dead_devices_than_poll_slots_do_not_starve_the_healthy_ones(
    own_snmpsim: Simulator, sessions: sessionmaker[Session], quick_start: None
) -> None:
    # The first round after start-up cannot tell the dead devices yet (they queue with the rest);
    # from their first failure on they wait in their own smaller pool.
    dead = 3 * SnmpConfig().max_concurrent_polls
    observed = asyncio.run(observe(own_snmpsim, sessions, dead=dead, settle_polls=2))
    assert_healthy_on_time(observed)

"""Broken or hostile agents end in a named error within the device deadline, never a traceback.

A tiny asyncio UDP responder (127.0.0.1 only) plays each misbehaviour; it speaks just enough v2c to
answer the poller's GET/GETBULK. ``SmallBufferAgent`` answers GET/GETNEXT/GETBULK properly from a
small MIB but, like agents with small buffers, answers tooBig when a response would be too long.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.hlapi.v3arch.asyncio import SnmpEngine
from pysnmp.proto import api, rfc1902, rfc1905

from collector.sources.snmp.poll import Target, poll_device
from collector.sources.snmp.profiles import load_profiles
from collector.sources.snmp.session import Credentials, SnmpError, SnmpSession

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
ROOT = "1.3.6.1.2.1.2.2.1.2"
ROOT_OID = tuple(map(int, ROOT.split(".")))
Answer = Callable[[tuple[int, ...]], list[tuple[tuple[int, ...], Any]] | bytes | None]
"""Requested OID → varbinds to answer with, raw bytes to send instead, or ``None`` for silence."""


class Responder(asyncio.DatagramProtocol):
    """Answers every request through ``answer`` (about the first requested OID); ``requests``
    counts the requests received."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        request, _ = decoder.decode(data, asn1Spec=V2C.Message())
        pdu = V2C.apiMessage.get_pdu(request)
        oid = tuple(V2C.apiPDU.get_varbinds(pdu)[0][0])
        answer = self.answer(oid)
        if answer is None or self.transport is None:
            return
        if isinstance(answer, bytes):
            self.transport.sendto(answer, addr)
            return
        response = V2C.apiMessage.get_response(request)
        V2C.apiPDU.set_varbinds(V2C.apiMessage.get_pdu(response), answer)
        self.transport.sendto(encoder.encode(response), addr)


class SmallBufferAgent(asyncio.DatagramProtocol):
    """A v2c agent over ``mib`` whose responses hold at most ``max_varbinds`` varbinds: a longer
    one is answered tooBig (with no varbinds), as RFC 3416 says; ``requests`` counts requests.
    With ``empty_getnext`` it answers GETNEXT with no varbinds at all (broken)."""

    def __init__(
        self, mib: dict[tuple[int, ...], Any], max_varbinds: int, empty_getnext: bool = False
    ) -> None:
        self.mib = mib
        self.oids = sorted(mib)
        self.max_varbinds = max_varbinds
        self.empty_getnext = empty_getnext
        self.requests = 0
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def after(self, oid: tuple[int, ...]) -> tuple[tuple[int, ...], Any]:
        position = bisect.bisect_right(self.oids, oid)
        if position == len(self.oids):
            return oid, rfc1905.endOfMibView
        return self.oids[position], self.mib[self.oids[position]]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.requests += 1
        request, _ = decoder.decode(data, asn1Spec=V2C.Message())
        pdu = V2C.apiMessage.get_pdu(request)
        asked = [tuple(name) for name, _ in V2C.apiPDU.get_varbinds(pdu)]
        if isinstance(pdu, V2C.GetBulkRequestPDU):
            rows, last = [], asked
            for _ in range(V2C.apiBulkPDU.get_max_repetitions(pdu)):
                row = [self.after(oid) for oid in last]
                rows += row
                last = [oid for oid, _ in row]
        elif isinstance(pdu, V2C.GetNextRequestPDU):
            rows = [] if self.empty_getnext else [self.after(oid) for oid in asked]
        else:
            rows = [(oid, self.mib.get(oid, rfc1905.noSuchInstance)) for oid in asked]
        response = V2C.apiMessage.get_response(request)
        answer = V2C.apiMessage.get_pdu(response)
        if len(rows) > self.max_varbinds:
            V2C.apiPDU.set_error_status(answer, 1)
            V2C.apiPDU.set_error_index(answer, 0)
            rows = []
        V2C.apiPDU.set_varbinds(answer, rows)
        assert self.transport is not None
        self.transport.sendto(encoder.encode(response), addr)


@asynccontextmanager
async def serving(protocol: asyncio.DatagramProtocol) -> AsyncIterator[int]:
    """``protocol`` listening on 127.0.0.1; yields its UDP port."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: protocol, local_addr=("127.0.0.1", 0))
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


def responder(answer: Answer, seen: list[Responder] | None = None) -> Any:
    """A running responder (see ``serving``), appended to ``seen`` if given."""
    protocol = Responder(answer)
    if seen is not None:
        seen.append(protocol)
    return serving(protocol)


async def walk_against(
    answer: Answer, deadline: float = 2.0, seen: list[Responder] | None = None, **limits: int,
) -> list[tuple[str, Any]]:
    """Walk ``ROOT`` on a responder with a fresh engine and a deadline ``deadline`` s from now."""
    engine = SnmpEngine()
    try:
        async with responder(answer, seen) as port:
            session = await SnmpSession.open(
                engine, "127.0.0.1", port, Credentials(community="public"), time.monotonic() + deadline,
                timeout=0.3, retries=1, **limits,
            )
            return await session.walk(ROOT)
    finally:
        engine.close_dispatcher()


def walk_error(answer: Answer, **options: Any) -> SnmpError:
    """The named error a walk ends in, checking it ends within the deadline (plus slack)."""
    started = time.monotonic()
    with pytest.raises(SnmpError) as caught:
        asyncio.run(walk_against(answer, **options))
    assert time.monotonic() - started < options.get("deadline", 2.0) + 1.0
    return caught.value


def walk_kind(answer: Answer, **options: Any) -> str:
    """The kind of the named error a walk ends in within the deadline."""
    return walk_error(answer, **options).kind


def table_rows(size: int) -> Answer:
    """A well-behaved ``size``-row column under ``ROOT``: 25 rows per answer, then past the subtree."""

    def answer(oid: tuple[int, ...]) -> list[tuple[tuple[int, ...], Any]]:
        last = oid[len(ROOT_OID)] if oid[: len(ROOT_OID)] == ROOT_OID and len(oid) > len(ROOT_OID) else 0
        rows: list[tuple[tuple[int, ...], Any]] = [
            ((*ROOT_OID, index), rfc1902.OctetString(b"if%d" % index))
            for index in range(last + 1, min(last + 25, size) + 1)
        ]
        return rows or [((1, 3, 6, 1, 2, 1, 2, 2, 1, 3, 1), rfc1902.Integer(6))]

    return answer


def test_non_increasing_oids_end_the_walk() -> None:
    assert walk_kind(lambda _oid: [((*ROOT_OID, 1), rfc1902.Integer(1))]) == "non_increasing_oid"


def test_an_endless_table_is_cut_at_the_row_cap() -> None:
    def next_rows(oid: tuple[int, ...]) -> list[tuple[tuple[int, ...], Any]]:
        last = oid[len(ROOT_OID)] if len(oid) > len(ROOT_OID) else 0
        return [((*ROOT_OID, last + 1 + i), rfc1902.Integer(i)) for i in range(10)]

    assert walk_kind(next_rows, max_rows=200) == "too_many_rows"


def test_a_silent_agent_times_out() -> None:
    assert walk_kind(lambda _oid: None) == "timeout"


def test_garbage_answers_are_dropped_and_end_in_timeout() -> None:
    assert walk_kind(lambda _oid: b"\x30\x05garbage-that-is-not-ber") == "timeout"


def test_end_of_mib_and_leaving_the_subtree_end_a_walk_cleanly() -> None:
    first = (*ROOT_OID, 1)
    outside = (1, 3, 6, 1, 2, 1, 2, 2, 1, 3, 1)
    rows = asyncio.run(
        walk_against(lambda _oid: [(first, rfc1902.OctetString(b"eth0")), (outside, rfc1902.Integer(6))])
    )
    assert rows == [(".".join(map(str, first)), b"eth0")]
    assert asyncio.run(walk_against(lambda oid: [(oid, rfc1905.endOfMibView)])) == []


def test_a_silent_device_is_one_error_within_its_deadline() -> None:
    async def poll() -> Any:
        async with responder(lambda _oid: None) as port:
            target = Target(host="127.0.0.1", port=port, timeout=0.2, retries=10)
            return await poll_device(target, Credentials(community="public"), load_profiles(), 1.0)

    started = time.monotonic()
    result = asyncio.run(poll())
    assert time.monotonic() - started < 2.0
    assert result.facts == {}
    assert {name: error.kind for name, error in result.errors.items()} == {"system.scalars": "timeout"}


def test_one_broken_table_does_not_lose_the_rest() -> None:
    """The interfaces walk loops; the system group and every other table are still reported."""
    sys_descr = (1, 3, 6, 1, 2, 1, 1, 1, 0)
    loop_at = (*ROOT_OID, 1)

    def answer(oid: tuple[int, ...]) -> list[tuple[tuple[int, ...], Any]]:
        if oid == sys_descr:
            return [(sys_descr, rfc1902.OctetString(b"hostile"))]
        if oid[: len(loop_at) - 1] == loop_at[:-1]:
            return [(loop_at, rfc1902.OctetString(b"eth0"))]
        return [((1, 3, 6, 1, 6, 3, 1), rfc1902.Integer(0))]  # past every subtree: end of the walk

    async def poll() -> Any:
        async with responder(answer) as port:
            target = Target(host="127.0.0.1", port=port, timeout=0.3, retries=0)
            return await poll_device(target, Credentials(community="public"), load_profiles(), 3.0)

    result = asyncio.run(poll())
    assert result.facts["system"]["descr"] == "hostile"
    assert {name: error.kind for name, error in result.errors.items()} == {
        "if-mib.interfaces": "non_increasing_oid"
    }



IF_COLUMNS = (2, 7, 8)
"""ifDescr, ifAdminStatus, ifOperStatus: walked side by side as one table."""


def small_mib(interfaces: int) -> dict[tuple[int, ...], Any]:
    """The system group and three ifTable columns of ``interfaces`` rows."""
    mib: dict[tuple[int, ...], Any] = {
        (1, 3, 6, 1, 2, 1, 1, 1, 0): rfc1902.OctetString(b"small buffer"),
        (1, 3, 6, 1, 2, 1, 1, 2, 0): rfc1902.ObjectIdentifier((1, 3, 6, 1, 4, 1, 99999)),
        (1, 3, 6, 1, 2, 1, 1, 5, 0): rfc1902.OctetString(b"tiny"),
    }
    for index in range(1, interfaces + 1):
        mib[(1, 3, 6, 1, 2, 1, 2, 2, 1, 2, index)] = rfc1902.OctetString(b"port%d" % index)
        mib[(1, 3, 6, 1, 2, 1, 2, 2, 1, 7, index)] = rfc1902.Integer(1)
        mib[(1, 3, 6, 1, 2, 1, 2, 2, 1, 8, index)] = rfc1902.Integer(2)
    return mib


async def walk_small_buffer(
    agent: SmallBufferAgent, deadline: float = 2.0
) -> dict[str, list[tuple[str, Any]]]:
    """Walk the three ifTable columns of ``agent`` side by side."""
    engine = SnmpEngine()
    try:
        async with serving(agent) as port:
            session = await SnmpSession.open(
                engine, "127.0.0.1", port, Credentials(community="public"), time.monotonic() + deadline,
                timeout=0.3, retries=1,
            )
            return await session.walk_columns([f"1.3.6.1.2.1.2.2.1.{column}" for column in IF_COLUMNS])
    finally:
        engine.close_dispatcher()


def test_an_agent_with_a_small_buffer_is_walked_whole_with_fewer_repetitions() -> None:
    """tooBig above 4 varbinds: 25 repetitions x 3 columns are halved down to 1 row per request."""
    agent = SmallBufferAgent(small_mib(40), max_varbinds=4)
    walked = asyncio.run(walk_small_buffer(agent))
    assert [len(walked[f"1.3.6.1.2.1.2.2.1.{column}"]) for column in IF_COLUMNS] == [40, 40, 40]
    assert walked["1.3.6.1.2.1.2.2.1.2"][-1] == ("1.3.6.1.2.1.2.2.1.2.40", b"port40")
    # 5 tooBig answers (25, 12, 6, 3, 1 repetitions... 1 fits), then one request per row and one past it.
    assert agent.requests <= 4 + 40 + 1


def test_an_agent_that_fits_one_varbind_is_walked_one_column_at_a_time() -> None:
    agent = SmallBufferAgent(small_mib(10), max_varbinds=1)
    walked = asyncio.run(walk_small_buffer(agent))
    assert [len(rows) for rows in walked.values()] == [10, 10, 10]


def test_an_agent_answering_everything_with_too_big_is_a_named_error_within_its_deadline() -> None:
    agent = SmallBufferAgent(small_mib(10), max_varbinds=0)
    started = time.monotonic()
    with pytest.raises(SnmpError) as caught:
        asyncio.run(walk_small_buffer(agent))
    assert time.monotonic() - started < 2.0
    assert caught.value.kind == "too_big"
    # Fewer repetitions (25 → 1), fewer columns (3 → 1), then GETNEXT: a bounded number of tries.
    assert agent.requests <= 5 + 2 + 1


def test_an_empty_getnext_answer_after_too_big_is_a_named_error() -> None:
    agent = SmallBufferAgent(small_mib(3), max_varbinds=0, empty_getnext=True)
    with pytest.raises(SnmpError) as caught:
        asyncio.run(walk_small_buffer(agent))
    assert caught.value.kind == "empty_answer"


def test_a_one_varbind_agent_is_polled_whole() -> None:
    """Every request of a poll is too big for this agent at first; the poll still reads everything."""
    agent = SmallBufferAgent(small_mib(3), max_varbinds=1)

    async def poll() -> Any:
        async with serving(agent) as port:
            target = Target(host="127.0.0.1", port=port, timeout=0.3, retries=0)
            return await poll_device(target, Credentials(community="public"), load_profiles(), 5.0)

    result = asyncio.run(poll())
    assert result.errors == {}
    assert result.facts["system"]["descr"] == "small buffer"
    assert [(i["name"], i["admin_status"], i["oper_status"]) for i in result.facts["interfaces"]] == [
        (f"port{index}", "up", "down") for index in (1, 2, 3)
    ]


def test_an_agent_answering_every_request_with_too_big_is_a_down_device_with_a_named_error() -> None:
    agent = SmallBufferAgent(small_mib(3), max_varbinds=0)

    async def poll() -> Any:
        async with serving(agent) as port:
            target = Target(host="127.0.0.1", port=port, timeout=0.3, retries=0)
            return await poll_device(target, Credentials(community="public"), load_profiles(), 3.0)

    started = time.monotonic()
    result = asyncio.run(poll())
    assert time.monotonic() - started < 4.0
    assert result.facts == {}
    assert {name: error.kind for name, error in result.errors.items()} == {"system.scalars": "too_big"}


def test_a_20000_row_table_stops_at_the_row_cap_with_bounded_requests() -> None:
    seen: list[Responder] = []
    error = walk_error(table_rows(20_000), deadline=10.0, seen=seen)  # default cap: 10,000 rows
    assert error.kind == "too_many_rows"
    # The walk stopped asking once over the cap: no more than cap / max-repetitions + 1 requests.
    assert seen[0].requests <= 10_000 // 25 + 1


def test_a_20000_row_table_within_the_cap_is_walked_whole() -> None:
    started = time.monotonic()
    rows = asyncio.run(walk_against(table_rows(20_000), deadline=15.0, max_rows=20_000))
    assert time.monotonic() - started < 16.0  # generous: 800 requests on a busy shared machine
    assert len(rows) == 20_000  # exactly the cap: every row kept, none beyond max_rows
    assert rows[-1] == (f"{ROOT}.20000", b"if20000")


class DecoyAgent(asyncio.DatagramProtocol):
    """Answers each request with decoys first — garbage, the answer for another request-id, the right
    answer sent from another port (``other``) — then, if ``honest``, with the right answer."""

    def __init__(self, other: asyncio.DatagramTransport, honest: bool) -> None:
        self.other = other
        self.honest = honest
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        request, _ = decoder.decode(data, asn1Spec=V2C.Message())
        response = V2C.apiMessage.get_response(request)
        pdu = V2C.apiMessage.get_pdu(response)
        past_the_column = (1, 3, 6, 1, 2, 1, 2, 2, 1, 3, 1)
        V2C.apiPDU.set_varbinds(pdu, [((*ROOT_OID, 1), rfc1902.OctetString(b"eth0")),
                                      (past_the_column, rfc1902.Integer(6))])
        right = encoder.encode(response)
        V2C.apiPDU.set_request_id(pdu, (int(V2C.apiPDU.get_request_id(pdu)) + 1) % 2**31)
        self.transport.sendto(b"\x30\x03\x02\x01\x01" + right, addr)
        self.transport.sendto(encoder.encode(response), addr)
        self.other.sendto(right, addr)
        if self.honest:
            self.transport.sendto(right, addr)


async def walk_decoys(honest: bool) -> list[tuple[str, Any]]:
    """Walk ``ROOT`` on a ``DecoyAgent`` (0.3 s per try, two tries)."""
    loop = asyncio.get_running_loop()
    other, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    engine = SnmpEngine()
    try:
        async with serving(DecoyAgent(other, honest)) as port:
            session = await SnmpSession.open(
                engine, "127.0.0.1", port, Credentials(community="public"), time.monotonic() + 2.0,
                timeout=0.3, retries=1,
            )
            return await session.walk(ROOT)
    finally:
        other.close()
        engine.close_dispatcher()


def test_decoys_before_the_answer_are_skipped_without_a_retry() -> None:
    started = time.monotonic()
    assert asyncio.run(walk_decoys(honest=True)) == [(f"{ROOT}.1", b"eth0")]
    assert time.monotonic() - started < 0.3  # answered by the first try, not after a timeout


def test_answers_from_another_port_or_for_another_request_are_not_taken() -> None:
    started = time.monotonic()
    with pytest.raises(SnmpError) as caught:
        asyncio.run(walk_decoys(honest=False))
    assert caught.value.kind == "timeout"
    assert 0.6 <= time.monotonic() - started < 1.5  # two tries of 0.3 s

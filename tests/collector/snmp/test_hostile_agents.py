"""Broken or hostile agents end in a named error within the device deadline, never a traceback.

A tiny asyncio UDP responder (127.0.0.1 only) plays each misbehaviour; it speaks just enough v2c to
answer the poller's GET/GETBULK.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.hlapi.v3arch.asyncio import SnmpEngine
from pysnmp.proto import api, rfc1902, rfc1905

from collector.pollers.snmp.poller import Target, poll_device
from collector.pollers.snmp.profiles import load_profiles
from collector.pollers.snmp.session import Credentials, SnmpError, SnmpSession

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
ROOT = "1.3.6.1.2.1.2.2.1.2"
ROOT_OID = tuple(map(int, ROOT.split(".")))
Answer = Callable[[tuple[int, ...]], list[tuple[tuple[int, ...], Any]] | bytes | None]
"""Requested OID → varbinds to answer with, raw bytes to send instead, or ``None`` for silence."""


class Responder(asyncio.DatagramProtocol):
    """Answers every request through ``answer`` (about the first requested OID).

    ``bulk_status`` is the error-status of every GETBULK answer (0: noError, 1: tooBig, ...);
    ``requests`` counts the requests received.
    """

    def __init__(self, answer: Answer, bulk_status: int = 0) -> None:
        self.answer = answer
        self.bulk_status = bulk_status
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
        if self.bulk_status and isinstance(pdu, V2C.GetBulkRequestPDU):
            V2C.apiPDU.set_error_status(V2C.apiMessage.get_pdu(response), self.bulk_status)
            V2C.apiPDU.set_error_index(V2C.apiMessage.get_pdu(response), 0)
        self.transport.sendto(encoder.encode(response), addr)


@asynccontextmanager
async def responder(
    answer: Answer, bulk_status: int = 0, seen: list[Responder] | None = None
) -> AsyncIterator[int]:
    """A running responder; yields its UDP port (and appends the protocol to ``seen`` if given)."""
    loop = asyncio.get_running_loop()
    protocol = Responder(answer, bulk_status)
    if seen is not None:
        seen.append(protocol)
    transport, _ = await loop.create_datagram_endpoint(lambda: protocol, local_addr=("127.0.0.1", 0))
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


async def walk_against(
    answer: Answer, deadline: float = 2.0, bulk_status: int = 0, seen: list[Responder] | None = None,
    **limits: int,
) -> list[tuple[str, Any]]:
    """Walk ``ROOT`` on a responder with a fresh engine and a deadline ``deadline`` s from now."""
    engine = SnmpEngine()
    try:
        async with responder(answer, bulk_status, seen) as port:
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



def test_an_agent_answering_every_getbulk_with_too_big_is_a_named_error() -> None:
    """No fallback to fewer repetitions or GETNEXT: the first tooBig ends the walk as agent_error."""
    seen: list[Responder] = []
    error = walk_error(table_rows(100), bulk_status=1, seen=seen)
    assert error.kind == "agent_error"
    assert "tooBig" in error.message
    assert seen[0].requests <= 2  # no retry storm against the agent


def test_too_big_on_bulk_fails_only_the_tables_of_a_poll() -> None:
    sys_descr = (1, 3, 6, 1, 2, 1, 1, 1, 0)

    def answer(oid: tuple[int, ...]) -> list[tuple[tuple[int, ...], Any]]:
        return [(sys_descr, rfc1902.OctetString(b"too big"))] if oid == sys_descr else table_rows(3)(oid)

    async def poll() -> Any:
        async with responder(answer, bulk_status=1) as port:
            target = Target(host="127.0.0.1", port=port, timeout=0.3, retries=0)
            return await poll_device(target, Credentials(community="public"), load_profiles(), 3.0)

    started = time.monotonic()
    result = asyncio.run(poll())
    assert time.monotonic() - started < 4.0
    assert result.facts["system"]["descr"] == "too big"
    assert result.errors
    assert {error.kind for name, error in result.errors.items() if not name.endswith(".scalars")} == {
        "agent_error"
    }


def test_a_20000_row_table_stops_at_the_row_cap_with_bounded_requests() -> None:
    seen: list[Responder] = []
    error = walk_error(table_rows(20_000), deadline=5.0, seen=seen)  # default cap: 10,000 rows
    assert error.kind == "too_many_rows"
    # The walk stopped asking once over the cap: no more than cap / max-repetitions + 1 requests.
    assert seen[0].requests <= 10_000 // 25 + 1


def test_a_20000_row_table_within_the_cap_is_walked_whole() -> None:
    started = time.monotonic()
    rows = asyncio.run(walk_against(table_rows(20_000), deadline=8.0, max_rows=20_000))
    assert time.monotonic() - started < 9.0
    assert len(rows) == 20_000  # exactly the cap: every row kept, none beyond max_rows
    assert rows[-1] == (f"{ROOT}.20000", b"if20000")

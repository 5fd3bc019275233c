"""A thin async SNMP client whose every failure is a named, bounded error.

The poller must survive hostile or broken agents (endless walks, huge tables, silence, tooBig), so
each request is bounded by a per-device deadline and each walk by a row cap; problems surface as
``SnmpError(kind)`` rather than tracebacks, so they can become a device's error state.

Two transports under one walking logic. v2c requests go out on a UDP socket of their own, encoded
and decoded by :mod:`collector.sources.snmp.ber`: decoding answers with pyasn1 cost more CPU than
everything else a poll does. SNMPv3 (USM authentication and privacy) goes through pysnmp's command
generators directly rather than its high-level functions, which resolve every varbind through the
MIB layer and rebuild the target on every call.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import msgspec
from pyasn1.type import univ
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import (
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    usmAesCfb128Protocol,
    usmAesCfb256Protocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMACSHAAuthProtocol,
    usmNoAuthProtocol,
    usmNoPrivProtocol,
)
from pysnmp.hlapi.v3arch.asyncio.cmdgen import LCD
from pysnmp.proto import errind, rfc1155, rfc1902, rfc1905

from collector.sources.snmp import ber
from collector.sources.snmp.ber import END_OF_MIB_VIEW, Decoded, Oid

Value = int | str | bytes
"""A decoded SNMP value: integers and counters as ``int``, OIDs and IP addresses as dotted ``str``,
OCTET STRINGs as raw ``bytes`` (a profile says whether they are text, a MAC or a bit field)."""

_AUTH = {None: usmNoAuthProtocol, "sha": usmHMACSHAAuthProtocol, "sha256": usmHMAC192SHA256AuthProtocol}
_PRIV = {None: usmNoPrivProtocol, "aes128": usmAesCfb128Protocol, "aes256": usmAesCfb256Protocol}
_GENERATORS = {
    ber.GET: cmdgen.GetCommandGenerator(),
    ber.GET_NEXT: cmdgen.NextCommandGeneratorSingleRun(),
    ber.GET_BULK: cmdgen.BulkCommandGenerator(),
}
"""pysnmp's command generator for each request PDU (the SNMPv3 path)."""
_NULL = univ.Null("")
TOO_BIG = 1
"""The PDU error-status tooBig: the answer would not fit the agent's (or the path's) message size."""
MAX_DATAGRAM = 65535
Answer = tuple[int, int, list[tuple[Oid, Decoded]]]
"""An agent's answer: (error-status, error-index, varbinds with decoded values)."""
FIRST_ROWS = 4
"""Rows asked for by a walk's first GETBULK (doubling with each next one, up to max-repetitions)."""


class SnmpError(Exception):
    """A named failure of one request or walk; ``kind`` is a stable label for metrics and the API."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    """v2c community or v3 USM user. ``repr`` never shows the community or the keys."""

    version: Literal["2c", "3"] = "2c"
    community: str = ""
    user: str = ""
    auth_protocol: Literal["sha", "sha256"] | None = None
    auth_key: str = ""
    priv_protocol: Literal["aes128", "aes256"] | None = None
    priv_key: str = ""
    context: str = ""

    def __repr__(self) -> str:
        if self.version == "2c":
            return "Credentials(version='2c', community=***)"
        return (
            f"Credentials(version='3', user={self.user!r}, auth={self.auth_protocol}, "
            f"priv={self.priv_protocol}, context={self.context!r})"
        )

    __str__ = __repr__

    def usm_user(self) -> UsmUserData:
        """The pysnmp security parameters of a v3 user (v2c does not go through pysnmp)."""
        return UsmUserData(
            self.user,
            authKey=self.auth_key or None,
            privKey=self.priv_key or None,
            authProtocol=_AUTH[self.auth_protocol],
            privProtocol=_PRIV[self.priv_protocol],
        )


def oid_tuple(oid: str) -> tuple[int, ...]:
    """``"1.3.6.1"`` (with or without a leading dot) → ``(1, 3, 6, 1)``, for ordering and prefixes."""
    return tuple(int(part) for part in oid.strip(".").split("."))


def decode_value(value: Any) -> Decoded:
    """A pysnmp value → what :func:`ber.decode_response` gives for it: plain Python,
    noSuchObject/noSuchInstance → ``None`` (absent), endOfMibView → ``END_OF_MIB_VIEW``."""
    if isinstance(value, rfc1905.EndOfMibView):
        return END_OF_MIB_VIEW
    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance):
        return None
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(part) for part in value)
    if isinstance(value, rfc1902.IpAddress | rfc1155.IpAddress):  # SNMPv2 and SNMPv1 types
        return ".".join(str(byte) for byte in value.asOctets())
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets())
    if isinstance(value, univ.Integer):
        return int(value)
    raise SnmpError("bad_value", f"unexpected value type {type(value).__name__}")


class Transport(Protocol):
    """Sends one request and waits for its answer until ``deadline`` (``time.monotonic()``)."""

    async def request(
        self, pdu: int, oids: Sequence[Oid], non_repeaters: int, max_repetitions: int, deadline: float
    ) -> Answer: ...


class CommunityTransport:
    """v2c over a UDP socket per request, messages in :mod:`~collector.sources.snmp.ber`.

    A socket per request costs a few microseconds and needs no closing by the caller; a fresh
    source port and a random request-id make a blind spoofed answer unlikely. Datagrams from another
    address, that do not decode, or that answer another request-id are dropped as pysnmp drops them:
    silence ends in ``timeout``. The socket is not connected, so an ICMP port-unreachable is silence
    too, as it is for pysnmp.
    """

    def __init__(
        self, address: tuple[str, int], credentials: Credentials, timeout: float, retries: int
    ) -> None:
        self.address = address
        self.version = ber.VERSION_2C
        self.community = credentials.community.encode()
        self.timeout = timeout
        self.tries = retries + 1

    async def request(
        self, pdu: int, oids: Sequence[Oid], non_repeaters: int, max_repetitions: int, deadline: float
    ) -> Answer:
        request_id = random.getrandbits(31)
        try:
            message = ber.encode_request(
                self.version, self.community, pdu, request_id, oids, non_repeaters, max_repetitions
            )
        except ber.BerError as error:
            raise SnmpError("bad_request", str(error)) from None
        loop = asyncio.get_running_loop()
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        except OSError as error:
            raise SnmpError("transport", str(error)) from None
        with sock:
            exchange = _Exchange(loop, sock, self.address, message, request_id, self.version)
            try:
                sock.setblocking(False)
                loop.add_reader(sock.fileno(), exchange.receive)
            except OSError as error:
                raise SnmpError("transport", str(error)) from None
            try:
                exchange.send(self.tries, self.timeout, deadline)
                return await exchange.answered
            finally:
                exchange.stop()
                loop.remove_reader(sock.fileno())


class _Exchange:
    """One v2c request in flight: sends it, sends it again after each ``timeout`` while tries are
    left, and settles ``answered`` with the answer bearing its request-id or with a named error."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        address: tuple[str, int],
        message: bytes,
        request_id: int,
        version: int,
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.address = address
        self.message = message
        self.request_id = request_id
        self.version = version
        self.answered: asyncio.Future[Answer] = loop.create_future()
        self.timer: asyncio.TimerHandle | None = None

    def send(self, tries: int, timeout: float, deadline: float) -> None:
        """Send (again), then come back after ``timeout`` (or at the deadline) unless answered."""
        if self.answered.done():
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self.answered.set_exception(SnmpError("timeout", "device deadline passed waiting for an answer"))
            return
        if tries == 0:
            self.answered.set_exception(SnmpError("timeout", "no answer within the request's tries"))
            return
        try:
            self.sock.sendto(self.message, self.address)
        except OSError as error:
            self.answered.set_exception(SnmpError("transport", str(error)))
            return
        self.timer = self.loop.call_later(min(timeout, remaining), self.send, tries - 1, timeout, deadline)

    def receive(self) -> None:
        """The socket is readable: take the first datagram that is this request's answer."""
        while not self.answered.done():
            try:
                data, sender = self.sock.recvfrom(MAX_DATAGRAM)
            except OSError:  # nothing more to read
                return
            if sender != self.address:
                continue
            try:
                request_id, status, index, varbinds = ber.decode_response(data, self.version)
            except ber.BerError:
                continue
            if request_id == self.request_id:
                self.answered.set_result((status, index, varbinds))

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


class UsmTransport:
    """SNMPv3 through pysnmp's command generators (USM authentication and privacy)."""

    def __init__(self, engine: SnmpEngine, transport: UdpTransportTarget, credentials: Credentials) -> None:
        self.engine = engine
        self.context = credentials.context.encode()
        self.target, _ = LCD.configure(engine, credentials.usm_user(), transport, self.context)

    async def request(
        self, pdu: int, oids: Sequence[Oid], non_repeaters: int, max_repetitions: int, deadline: float
    ) -> Answer:
        bulk = (non_repeaters, max_repetitions) if pdu == ber.GET_BULK else ()
        answered: asyncio.Future[tuple[Any, Any, Any, Any]] = asyncio.get_running_loop().create_future()
        var_binds = [(rfc1902.ObjectName(oid), _NULL) for oid in oids]
        try:
            _GENERATORS[pdu].send_varbinds(
                self.engine, self.target, None, self.context, *bulk, var_binds, _deliver, answered
            )
            indication, status, index, answer = await asyncio.wait_for(answered, deadline - time.monotonic())
        except TimeoutError:
            raise SnmpError("timeout", "device deadline passed waiting for an answer") from None
        except PySnmpError as error:
            raise SnmpError("transport", str(error)) from None
        if indication:
            kind = "timeout" if isinstance(indication, errind.RequestTimedOut) else "transport"
            raise SnmpError(kind, str(indication))
        return int(status), int(index), [(name.asTuple(), decode_value(value)) for name, value in answer]


class SnmpSession:
    """One device's SNMP conversation, bounded by an absolute ``deadline`` (``time.monotonic()``).

    An agent that answers tooBig is asked for less (fewer GETBULK repetitions, then fewer columns
    per request, then GETNEXT) for the rest of the session; only if one row of one column is still
    too big does the walk end as ``too_big``.
    """

    def __init__(
        self,
        transport: Transport,
        deadline: float,
        *,
        max_repetitions: int = 25,
        max_rows: int = 10_000,
    ) -> None:
        self._transport = transport
        self.deadline = deadline
        self.max_repetitions = max_repetitions
        self.max_rows = max_rows
        self._repetitions = max_repetitions
        self._columns_per_request: int | None = None
        """None: every column of a table in one request; lowered on tooBig."""
        self._getnext = False

    @classmethod
    async def open(
        cls,
        engine: SnmpEngine,
        host: str,
        port: int,
        credentials: Credentials,
        deadline: float,
        *,
        timeout: float = 1.0,
        retries: int = 1,
        **limits: int,
    ) -> SnmpSession:
        """Resolve the target once; ``timeout``/``retries`` are per request, ``deadline`` for all.
        ``engine`` serves SNMPv3 only: v2c goes through :class:`CommunityTransport`."""
        try:
            target = await asyncio.wait_for(
                UdpTransportTarget.create((host, port), timeout=timeout, retries=retries),
                max(deadline - time.monotonic(), 0),
            )
        except TimeoutError:
            raise SnmpError("timeout", f"resolving {host} took past the deadline") from None
        except PySnmpError as error:
            raise SnmpError("resolve", str(error)) from None
        transport: Transport
        if credentials.version == "2c":
            transport = CommunityTransport(target.transport_address, credentials, timeout, retries)
        else:
            transport = UsmTransport(engine, target, credentials)
        return cls(transport, deadline, **limits)

    async def _request(
        self, pdu: int, oids: Sequence[Oid], non_repeaters: int = 0, max_repetitions: int = 0
    ) -> list[tuple[Oid, Decoded]]:
        """Send one request within the deadline; turn every failure into a named error."""
        if self.deadline - time.monotonic() <= 0:
            raise SnmpError("timeout", "device deadline passed before the request")
        status, index, answer = await self._transport.request(
            pdu, oids, non_repeaters, max_repetitions, self.deadline
        )
        if status:
            kind = "too_big" if status == TOO_BIG else "agent_error"
            raise SnmpError(kind, f"{rfc1905.errorStatus.clone(status).prettyPrint()} at varbind {index}")
        return answer

    async def get(self, oids: Sequence[str]) -> dict[str, Value | None]:
        """GET the given OIDs; an OID the agent does not have maps to ``None``.

        A GET the agent finds too big is split in halves, down to single OIDs.
        """
        try:
            answer = await self._request(ber.GET, [oid_tuple(oid) for oid in oids])
        except SnmpError as error:
            if error.kind != "too_big" or len(oids) < 2:
                raise
            half = len(oids) // 2
            return await self.get(oids[:half]) | await self.get(oids[half:])
        return {".".join(map(str, oid)): None if value is END_OF_MIB_VIEW else value for oid, value in answer}

    async def _next_rows(self, after: Sequence[Oid], rows: int) -> tuple[int, list[tuple[Oid, Decoded]]]:
        """At most ``rows`` rows after the first (up to ``_columns_per_request``) OIDs of ``after``:
        how many columns were asked, and the answer (GETBULK, column after column in each row).

        On tooBig: halve the repetitions, then the columns per request, then use GETNEXT.
        """
        while True:
            asked = after[: self._columns_per_request]
            repetitions = min(rows, self._repetitions)
            try:
                if self._getnext:
                    return len(asked), await self._request(ber.GET_NEXT, asked)
                return len(asked), await self._request(ber.GET_BULK, asked, 0, repetitions)
            except SnmpError as error:
                if error.kind != "too_big" or self._getnext:
                    raise
                if repetitions > 1:
                    self._repetitions = repetitions // 2
                elif len(asked) > 1:
                    self._columns_per_request = len(asked) // 2
                else:
                    self._getnext = True

    async def walk_columns(self, roots: Sequence[str]) -> dict[str, list[tuple[str, Value]]]:
        """All (oid, value) under each root, the roots walked side by side (one GETBULK asks for
        the next rows of every column), each bounded in rows and order, all in time.

        The first request asks for a few rows and each next one for twice as many, up to
        ``max_repetitions``: most tables a profile names are absent or short on a given device, and
        every row an agent sends past a table's end is work for both sides (decoding dominates).
        """
        prefixes = {root: oid_tuple(root) for root in roots}
        last = dict(prefixes)
        rows: dict[str, list[tuple[str, Value]]] = {root: [] for root in roots}
        active = list(roots)
        wanted = FIRST_ROWS
        while active:
            asked, answer = await self._next_rows([last[root] for root in active], wanted)
            if not answer:  # an empty GETNEXT answer would never progress
                raise SnmpError("empty_answer", f"no varbinds in the answer for {active[0]}")
            wanted *= 2
            ended: set[str] = set()
            for position, (current, value) in enumerate(answer):
                root = active[position % asked]
                if root in ended:
                    continue
                prefix = prefixes[root]
                if current[: len(prefix)] != prefix or value is END_OF_MIB_VIEW:
                    ended.add(root)
                    continue
                if current <= last[root]:
                    raise SnmpError(
                        "non_increasing_oid",
                        f"{'.'.join(map(str, current))} does not follow {'.'.join(map(str, last[root]))}",
                    )
                if len(rows[root]) >= self.max_rows:
                    raise SnmpError("too_many_rows", f"more than {self.max_rows} rows under {root}")
                if value is not None:
                    rows[root].append((".".join(map(str, current)), value))
                last[root] = current
            active = [root for root in active if root not in ended]
        return rows

    async def walk(self, root: str) -> list[tuple[str, Value]]:
        """All (oid, value) under ``root`` with GETBULK, bounded in rows, order and time."""
        return (await self.walk_columns([root]))[root]


def _deliver(
    _engine: SnmpEngine,
    _handle: int,
    indication: Any,
    status: Any,
    index: Any,
    var_binds: Any,
    answered: asyncio.Future[tuple[Any, Any, Any, Any]],
) -> None:
    """pysnmp's answer callback: hand the answer to the waiting request (unless it gave up)."""
    if not answered.done():
        answered.set_result((indication, status, index, var_binds))

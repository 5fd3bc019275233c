"""A thin async SNMP client over pysnmp 7 whose every failure is a named, bounded error.

The poller must survive hostile or broken agents (endless walks, huge tables, silence, tooBig), so
each request is bounded by a per-device deadline and each walk by a row cap; problems surface as
``SnmpError(kind)`` rather than tracebacks, so they can become a device's error state.

Requests go to pysnmp's command generators directly rather than through its high-level functions:
those resolve every varbind through the MIB layer and rebuild the target on every call, which costs
more CPU than the request itself when a thousand switches are polled a minute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Literal

import msgspec
from pyasn1.type import univ
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
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
from pysnmp.proto import errind, rfc1902, rfc1905

Value = int | str | bytes
"""A decoded SNMP value: integers and counters as ``int``, OIDs and IP addresses as dotted ``str``,
OCTET STRINGs as raw ``bytes`` (a profile says whether they are text, a MAC or a bit field)."""

_AUTH = {None: usmNoAuthProtocol, "sha": usmHMACSHAAuthProtocol, "sha256": usmHMAC192SHA256AuthProtocol}
_PRIV = {None: usmNoPrivProtocol, "aes128": usmAesCfb128Protocol, "aes256": usmAesCfb256Protocol}
_GET = cmdgen.GetCommandGenerator()
_NEXT = cmdgen.NextCommandGeneratorSingleRun()
_BULK = cmdgen.BulkCommandGenerator()
_NULL = univ.Null("")
TOO_BIG = 1
"""The PDU error-status tooBig: the answer would not fit the agent's (or the path's) message size."""
Oid = tuple[int, ...]
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

    def auth_data(self) -> CommunityData | UsmUserData:
        """The pysnmp security parameters for these credentials."""
        if self.version == "2c":
            return CommunityData(self.community, mpModel=1)
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


def decode_value(value: Any) -> Value | None:
    """A pysnmp value → plain Python; noSuchObject/noSuchInstance/endOfMibView → ``None`` (absent)."""
    if isinstance(value, rfc1905.NoSuchObject | rfc1905.NoSuchInstance | rfc1905.EndOfMibView):
        return None
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(part) for part in value)
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(byte) for byte in value.asOctets())
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets())
    if isinstance(value, univ.Integer):
        return int(value)
    raise SnmpError("bad_value", f"unexpected value type {type(value).__name__}")


class SnmpSession:
    """One device's SNMP conversation, bounded by an absolute ``deadline`` (``time.monotonic()``).

    An agent that answers tooBig is asked for less (fewer GETBULK repetitions, then fewer columns
    per request, then GETNEXT) for the rest of the session; only if one row of one column is still
    too big does the walk end as ``too_big``.
    """

    def __init__(
        self,
        engine: SnmpEngine,
        transport: UdpTransportTarget,
        credentials: Credentials,
        deadline: float,
        *,
        max_repetitions: int = 25,
        max_rows: int = 10_000,
    ) -> None:
        self._engine = engine
        self._context = credentials.context.encode()
        self._target, _ = LCD.configure(engine, credentials.auth_data(), transport, self._context)
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
        """Resolve the target once; ``timeout``/``retries`` are per request, ``deadline`` for all."""
        try:
            transport = await asyncio.wait_for(
                UdpTransportTarget.create((host, port), timeout=timeout, retries=retries),
                max(deadline - time.monotonic(), 0),
            )
        except TimeoutError:
            raise SnmpError("timeout", f"resolving {host} took past the deadline") from None
        except PySnmpError as error:
            raise SnmpError("resolve", str(error)) from None
        return cls(engine, transport, credentials, deadline, **limits)

    async def _request(
        self, generator: Any, oids: Sequence[Oid], *bulk: int
    ) -> list[tuple[Oid, Any]]:
        """Send one request within the deadline; turn every failure into a named error.

        ``bulk`` is (non-repeaters, max-repetitions) for GETBULK and empty otherwise.
        """
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise SnmpError("timeout", "device deadline passed before the request")
        answered: asyncio.Future[tuple[Any, Any, Any, Any]] = asyncio.get_running_loop().create_future()
        var_binds = [(rfc1902.ObjectName(oid), _NULL) for oid in oids]
        try:
            generator.send_varbinds(self._engine, self._target, None, self._context, *bulk, var_binds,
                                    _deliver, answered)
            indication, status, index, answer = await asyncio.wait_for(answered, remaining)
        except TimeoutError:
            raise SnmpError("timeout", "device deadline passed waiting for an answer") from None
        except PySnmpError as error:
            raise SnmpError("transport", str(error)) from None
        if indication:
            kind = "timeout" if isinstance(indication, errind.RequestTimedOut) else "transport"
            raise SnmpError(kind, str(indication))
        if status:
            kind = "too_big" if int(status) == TOO_BIG else "agent_error"
            raise SnmpError(kind, f"{status.prettyPrint()} at varbind {int(index)}")
        return [(name.asTuple(), value) for name, value in answer]

    async def get(self, oids: Sequence[str]) -> dict[str, Value | None]:
        """GET the given OIDs; an OID the agent does not have maps to ``None``.

        A GET the agent finds too big is split in halves, down to single OIDs.
        """
        try:
            answer = await self._request(_GET, [oid_tuple(oid) for oid in oids])
        except SnmpError as error:
            if error.kind != "too_big" or len(oids) < 2:
                raise
            half = len(oids) // 2
            return await self.get(oids[:half]) | await self.get(oids[half:])
        return {".".join(map(str, oid)): decode_value(value) for oid, value in answer}

    async def _next_rows(self, after: Sequence[Oid], rows: int) -> tuple[int, list[tuple[Oid, Any]]]:
        """At most ``rows`` rows after the first (up to ``_columns_per_request``) OIDs of ``after``:
        how many columns were asked, and the answer (GETBULK, column after column in each row).

        On tooBig: halve the repetitions, then the columns per request, then use GETNEXT.
        """
        while True:
            asked = after[: self._columns_per_request]
            repetitions = min(rows, self._repetitions)
            try:
                if self._getnext:
                    return len(asked), await self._request(_NEXT, asked)
                return len(asked), await self._request(_BULK, asked, 0, repetitions)
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
            if not answer:  # pysnmp lets an empty GETNEXT answer through: it would never progress
                raise SnmpError("empty_answer", f"no varbinds in the answer for {active[0]}")
            wanted *= 2
            ended: set[str] = set()
            for position, (current, raw) in enumerate(answer):
                root = active[position % asked]
                if root in ended:
                    continue
                prefix = prefixes[root]
                if current[: len(prefix)] != prefix or isinstance(raw, rfc1905.EndOfMibView):
                    ended.add(root)
                    continue
                if current <= last[root]:
                    raise SnmpError(
                        "non_increasing_oid",
                        f"{'.'.join(map(str, current))} does not follow {'.'.join(map(str, last[root]))}",
                    )
                if len(rows[root]) >= self.max_rows:
                    raise SnmpError("too_many_rows", f"more than {self.max_rows} rows under {root}")
                value = decode_value(raw)
                if value is not None:
                    rows[root].append((".".join(map(str, current)), value))
                last[root] = current
            active = [root for root in active if root not in ended]
        return rows

    async def walk(self, root: str) -> list[tuple[str, Value]]:
        """All (oid, value) under ``root`` with GETBULK, bounded in rows, order and time."""
        return (await self.walk_columns([root]))[root]


def _deliver(
    _engine: SnmpEngine, _handle: int, indication: Any, status: Any, index: Any, var_binds: Any,
    answered: asyncio.Future[tuple[Any, Any, Any, Any]],
) -> None:
    """pysnmp's answer callback: hand the answer to the waiting request (unless it gave up)."""
    if not answered.done():
        answered.set_result((indication, status, index, var_binds))

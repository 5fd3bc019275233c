"""A thin async SNMP client over pysnmp 7 whose every failure is a named, bounded error.

The poller must survive hostile or broken agents (endless walks, huge tables, silence), so each
request is bounded by a per-device deadline and each walk by a row cap; problems surface as
``SnmpError(kind)`` rather than tracebacks, so they can become a device's error state.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Literal

import msgspec
from pyasn1.type import univ
from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    usmAesCfb128Protocol,
    usmAesCfb256Protocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMACSHAAuthProtocol,
    usmNoAuthProtocol,
    usmNoPrivProtocol,
)
from pysnmp.proto import errind, rfc1902, rfc1905

Value = int | str | bytes
"""A decoded SNMP value: integers and counters as ``int``, OIDs and IP addresses as dotted ``str``,
OCTET STRINGs as raw ``bytes`` (a profile says whether they are text, a MAC or a bit field)."""

_AUTH = {None: usmNoAuthProtocol, "sha": usmHMACSHAAuthProtocol, "sha256": usmHMAC192SHA256AuthProtocol}
_PRIV = {None: usmNoPrivProtocol, "aes128": usmAesCfb128Protocol, "aes256": usmAesCfb256Protocol}


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
    """One device's SNMP conversation, bounded by an absolute ``deadline`` (``time.monotonic()``)."""

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
        self._transport = transport
        self._auth = credentials.auth_data()
        self._context = ContextData(contextName=credentials.context)
        self.deadline = deadline
        self.max_repetitions = max_repetitions
        self.max_rows = max_rows

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

    async def _request(self, command: Any, *args: Any, oids: Sequence[str]) -> list[tuple[str, Any]]:
        """Send one request within the deadline; turn every failure into a named error."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise SnmpError("timeout", "device deadline passed before the request")
        var_binds = [ObjectType(ObjectIdentity(oid)) for oid in oids]
        try:
            indication, status, index, answer = await asyncio.wait_for(
                command(self._engine, self._auth, self._transport, self._context, *args, *var_binds,
                        lookupMib=False),
                remaining,
            )
        except TimeoutError:
            raise SnmpError("timeout", "device deadline passed waiting for an answer") from None
        if indication:
            kind = "timeout" if isinstance(indication, errind.RequestTimedOut) else "transport"
            raise SnmpError(kind, str(indication))
        if status:
            raise SnmpError("agent_error", f"{status.prettyPrint()} at varbind {int(index)}")
        return [(".".join(str(p) for p in name), value) for name, value in answer]

    async def get(self, oids: Sequence[str]) -> dict[str, Value | None]:
        """GET the given OIDs; an OID the agent does not have maps to ``None``."""
        answer = await self._request(get_cmd, oids=oids)
        return {oid: decode_value(value) for oid, value in answer}

    async def walk(self, root: str) -> list[tuple[str, Value]]:
        """All (oid, value) under ``root`` with GETBULK, bounded in rows, order and time."""
        prefix = oid_tuple(root)
        rows: list[tuple[str, Value]] = []
        last = prefix
        while True:
            answer = await self._request(bulk_cmd, 0, self.max_repetitions, oids=[".".join(map(str, last))])
            if not answer:
                return rows
            for oid, raw in answer:
                current = oid_tuple(oid)
                if current[: len(prefix)] != prefix or isinstance(raw, rfc1905.EndOfMibView):
                    return rows
                if current <= last:
                    raise SnmpError("non_increasing_oid", f"{oid} does not follow {'.'.join(map(str, last))}")
                if len(rows) >= self.max_rows:
                    raise SnmpError("too_many_rows", f"more than {self.max_rows} rows under {root}")
                value = decode_value(raw)
                if value is not None:
                    rows.append((oid, value))
                last = current

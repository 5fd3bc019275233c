"""A small, strict BER codec for SNMP v1/v2c requests and responses, without pyasn1.

Decoding answers with pyasn1 was most of the poller's CPU (about 150 µs a varbind): this module
decodes a Response PDU straight from the bytes into the poller's plain values. It knows exactly the
message SNMP v1/v2c uses and nothing else: definite lengths only, every length checked against its
enclosing element, integers and OIDs bounded as SNMP bounds them (RFC 2578, RFC 3416), no recursion.
Anything else — truncation, trailing bytes, a wrong tag, a value out of its type's range — is a
:class:`BerError`, so a hostile packet is refused as pysnmp refuses it. SNMPv3 stays with pysnmp.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from functools import lru_cache

GET = 0xA0
GET_NEXT = 0xA1
RESPONSE = 0xA2
GET_BULK = 0xA5
"""PDU tags (context-specific, constructed)."""
VERSION_1 = 0
VERSION_2C = 1
MAX_OID_ARCS = 128
"""RFC 2578 §3.5: at most 128 sub-identifiers, each at most 2^32 - 1."""
MAX_ARC = 2**32 - 1
MAX_INTEGER_OCTETS = 9
"""The longest INTEGER SNMP has: a Counter64 of 2^63 or more, with a leading zero octet."""
MAX_LENGTH_OCTETS = 4
"""Long-form lengths of more octets are refused outright (no datagram needs them); every length is
also checked against what is left of its enclosing element."""

_INT32 = (-(2**31), 2**31 - 1)
_UINT32 = (0, 2**32 - 1)
_UINT64 = (0, 2**64 - 1)
_INTEGER_RANGES = {0x02: _INT32, 0x41: _UINT32, 0x42: _UINT32, 0x43: _UINT32, 0x46: _UINT64}
"""INTEGER, Counter32, Gauge32 (= Unsigned32), TimeTicks, Counter64: value tag → allowed range."""
_OCTETS = frozenset((0x04, 0x44))
"""OCTET STRING and Opaque: their contents are the value."""
_V2_ONLY = frozenset((0x46, 0x80, 0x81, 0x82))
"""Counter64 and the three exceptions exist from SNMPv2 on."""


class EndOfMibView(enum.Enum):
    """The endOfMibView exception: the agent has nothing after the asked OID (a walk's end)."""

    END_OF_MIB_VIEW = "endOfMibView"


END_OF_MIB_VIEW = EndOfMibView.END_OF_MIB_VIEW
Oid = tuple[int, ...]
Decoded = int | str | bytes | EndOfMibView | None
"""A varbind value as the poller reads it: integers and counters as ``int``, OIDs and IP addresses
as dotted ``str``, OCTET STRING/Opaque as ``bytes`` (NULL as ``b""``), noSuchObject and
noSuchInstance as ``None``, endOfMibView as :data:`END_OF_MIB_VIEW`."""
_EXCEPTIONS: dict[int, Decoded] = {0x80: None, 0x81: None, 0x82: END_OF_MIB_VIEW, 0x05: b""}
"""noSuchObject, noSuchInstance, endOfMibView and NULL: their contents must be empty."""


class BerError(ValueError):
    """The bytes are not a well-formed SNMP v1/v2c message of the expected kind."""


def _length_octets(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, contents: bytes) -> bytes:
    return bytes((tag,)) + _length_octets(len(contents)) + contents


def _integer(value: int) -> bytes:
    """An INTEGER TLV in the fewest octets (two's complement)."""
    octets = ((value if value >= 0 else ~value).bit_length() + 8) // 8
    return _tlv(0x02, value.to_bytes(octets, "big", signed=True))


@lru_cache(maxsize=4096)
def encode_oid(oid: Oid) -> bytes:
    """An OID as a BER TLV (cached: a walk asks for its roots' OIDs again and again)."""
    if not 2 <= len(oid) <= MAX_OID_ARCS or oid[0] > 2 or (oid[0] < 2 and oid[1] >= 40):
        raise BerError(f"not an SNMP OID: {oid}")
    contents = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        if not 0 <= arc <= MAX_ARC:
            raise BerError(f"OID arc out of range: {arc}")
        if arc < 0x80:
            contents.append(arc)
            continue
        septets = [arc & 0x7F]
        arc >>= 7
        while arc:
            septets.append(0x80 | (arc & 0x7F))
            arc >>= 7
        contents += bytes(reversed(septets))
    return _tlv(0x06, bytes(contents))


def encode_request(
    version: int,
    community: bytes,
    pdu: int,
    request_id: int,
    oids: Sequence[Oid],
    non_repeaters: int = 0,
    max_repetitions: int = 0,
) -> bytes:
    """A GET/GETNEXT/GETBULK message asking for ``oids`` (NULL values); for GETBULK the two PDU
    fields after the request-id are non-repeaters and max-repetitions, else both zero."""
    if pdu not in (GET, GET_NEXT, GET_BULK) or (pdu == GET_BULK and version == VERSION_1):
        raise BerError(f"no such request PDU {pdu:#x} in version {version}")
    bindings = b"".join([_tlv(0x30, encode_oid(oid) + b"\x05\x00") for oid in oids])
    body = _integer(request_id) + _integer(non_repeaters) + _integer(max_repetitions) + _tlv(0x30, bindings)
    return _tlv(0x30, _integer(version) + _tlv(0x04, community) + _tlv(pdu, body))


def _header(data: bytes, position: int, end: int, tag: int) -> tuple[int, int]:
    """The (contents start, contents end) of the element of ``tag`` at ``position``, inside ``end``."""
    if position + 2 > end:
        raise BerError(f"truncated at octet {position}")
    if data[position] != tag:
        raise BerError(f"expected tag {tag:#04x} at octet {position}, found {data[position]:#04x}")
    length = data[position + 1]
    position += 2
    if length >= 0x80:
        count = length & 0x7F
        if not 1 <= count <= MAX_LENGTH_OCTETS:
            raise BerError(f"unsupported length form {length:#04x} at octet {position - 1}")
        if position + count > end:
            raise BerError(f"truncated length at octet {position}")
        length = int.from_bytes(data[position : position + count], "big")
        position += count
    if position + length > end:
        raise BerError(f"length {length} at octet {position} overruns its element")
    return position, position + length


def _bounded_integer(data: bytes, start: int, end: int, low: int, high: int) -> int:
    if not 1 <= end - start <= MAX_INTEGER_OCTETS:
        raise BerError(f"INTEGER of {end - start} octets at octet {start}")
    value = int.from_bytes(data[start:end], "big", signed=True)
    if not low <= value <= high:
        raise BerError(f"INTEGER {value} out of range at octet {start}")
    return value


def _oid(data: bytes, start: int, end: int) -> Oid:
    """The arcs of the OID contents ``data[start:end]`` (short arcs take the fast path)."""
    contents = data[start:end]
    if not contents:
        raise BerError(f"empty OID at octet {start}")
    if max(contents) < 0x80:
        arcs: list[int] = list(contents)
    else:
        arcs = []
        arc = 0
        for octet in contents:
            if arc == 0 and octet == 0x80:
                raise BerError(f"non-minimal OID arc at octet {start}")
            arc = (arc << 7) | (octet & 0x7F)
            if octet < 0x80:
                arcs.append(arc)
                arc = 0
            elif arc > MAX_ARC >> 7:
                raise BerError(f"OID arc too large at octet {start}")
        if contents[-1] >= 0x80:
            raise BerError(f"OID ends inside an arc at octet {start}")
    if len(arcs) >= MAX_OID_ARCS:  # the first sub-identifier holds two arcs
        raise BerError(f"OID of more than {MAX_OID_ARCS} arcs at octet {start}")
    first = arcs[0]
    if first < 80:
        return (first // 40, first % 40, *arcs[1:])
    return (2, first - 80, *arcs[1:])


def decode_response(
    data: bytes, version: int = VERSION_2C
) -> tuple[int, int, int, list[tuple[Oid, Decoded]]]:
    """A v1/v2c Response message → (request-id, error-status, error-index, [(oid, value)]).

    Raises :class:`BerError` for anything but exactly one well-formed Response of ``version``.
    """
    end = len(data)
    header = _header
    position, message_end = header(data, 0, end, 0x30)
    if message_end != end:
        raise BerError(f"{end - message_end} octets after the message")
    start, position = header(data, position, end, 0x02)
    if _bounded_integer(data, start, position, 0, 1) != version:
        raise BerError(f"not a version {version} message")
    position = header(data, position, end, 0x04)[1]  # the community: not checked, as pysnmp
    position, pdu_end = header(data, position, end, RESPONSE)
    if pdu_end != end:
        raise BerError("octets after the PDU")
    start, position = header(data, position, end, 0x02)
    request_id = _bounded_integer(data, start, position, *_INT32)
    start, position = header(data, position, end, 0x02)
    error_status = _bounded_integer(data, start, position, *_INT32)
    start, position = header(data, position, end, 0x02)
    error_index = _bounded_integer(data, start, position, 0, _INT32[1])
    position, bindings_end = header(data, position, end, 0x30)
    if bindings_end != end:
        raise BerError("octets after the variable bindings")
    v2_only = _V2_ONLY if version == VERSION_1 else frozenset()
    integer_ranges = _INTEGER_RANGES
    exceptions = _EXCEPTIONS
    varbinds: list[tuple[Oid, Decoded]] = []
    append = varbinds.append
    while position < end:
        # Each header inline when its length has the short form (almost always), else _header.
        if position + 2 <= end and data[position] == 0x30 and data[position + 1] < 0x80:
            binding_end = position + 2 + data[position + 1]
            position += 2
            if binding_end > end:
                raise BerError(f"varbind length overruns the message at octet {position}")
        else:
            position, binding_end = header(data, position, end, 0x30)
        if position + 2 <= binding_end and data[position] == 0x06 and data[position + 1] < 0x80:
            start = position + 2
            position = start + data[position + 1]
            if position > binding_end:
                raise BerError(f"OID length overruns its varbind at octet {start}")
        else:
            start, position = header(data, position, binding_end, 0x06)
        oid = _oid(data, start, position)
        if position + 2 > binding_end:
            raise BerError(f"no value at octet {position}")
        tag = data[position]
        if data[position + 1] < 0x80:
            start = position + 2
            position = start + data[position + 1]
        else:
            start, position = header(data, position, binding_end, tag)
        if position != binding_end:
            raise BerError(f"the value does not end its varbind at octet {start}")
        if tag in v2_only:
            raise BerError(f"tag {tag:#04x} does not exist in SNMPv1")
        value: Decoded
        if tag in _OCTETS:
            value = data[start:position]
        elif tag in integer_ranges:
            if not 1 <= position - start <= MAX_INTEGER_OCTETS:
                raise BerError(f"INTEGER of {position - start} octets at octet {start}")
            value = int.from_bytes(data[start:position], "big", signed=True)
            low, high = integer_ranges[tag]
            if not low <= value <= high:
                raise BerError(f"value {value} out of range for tag {tag:#04x} at octet {start}")
        elif tag == 0x06:
            value = ".".join(map(str, _oid(data, start, position)))
        elif tag == 0x40:
            if position - start != 4:
                raise BerError(f"IpAddress of {position - start} octets at octet {start}")
            value = ".".join(map(str, data[start:position]))
        elif tag in exceptions:
            if position != start:
                raise BerError(f"non-empty {tag:#04x} at octet {start}")
            value = exceptions[tag]
        else:
            raise BerError(f"unknown value tag {tag:#04x} at octet {start}")
        append((oid, value))
    return request_id, error_status, error_index, varbinds

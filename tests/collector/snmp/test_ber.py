"""The v1/v2c BER codec against pysnmp/pyasn1 as the oracle, and against hostile bytes.

Generated messages (seeded, every value type, extremes of each range) must read the same through
``ber.decode_response`` as through pyasn1 + ``decode_value``; requests ``ber`` encodes must be the
very bytes pyasn1 encodes for the same message. Malformed input must be a ``BerError``, whatever it is.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pysnmp.proto import api, rfc1902, rfc1905

from collector.sources.snmp import ber
from collector.sources.snmp.session import decode_value

MODULES = {ber.VERSION_1: api.PROTOCOL_MODULES[api.SNMP_VERSION_1],
           ber.VERSION_2C: api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]}
V2C = MODULES[ber.VERSION_2C]
RESPONSES = {ber.VERSION_1: MODULES[ber.VERSION_1].GetResponsePDU, ber.VERSION_2C: V2C.ResponsePDU}
CASES = 300


def random_oid(rng: random.Random, arcs: int | None = None) -> tuple[int, ...]:
    """An OID of 2..128 arcs (2.x may have x >= 40), arcs small, large, and up to 2^32 - 1."""
    first = rng.randrange(3)
    second = rng.randrange(40) if first < 2 else rng.choice((0, 39, 40, 1000, 2**32 - 81))
    count = arcs or rng.choice((2, 3, 9, 12, 20, rng.randrange(2, ber.MAX_OID_ARCS + 1)))
    tail = [rng.choice((rng.randrange(128), rng.randrange(2**14), rng.randrange(2**32), 2**32 - 1, 127, 128))
            for _ in range(count - 2)]
    return (first, second, *tail)


def random_value(rng: random.Random, version: int) -> Any:
    """A pysnmp value of a random type that ``version`` has, often at an edge of its range."""
    octets = bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 6, 127, 128, 300))))
    unsigned32 = rng.choice((0, 1, 127, 128, 2**31, 2**32 - 1, rng.randrange(2**32)))
    makers = [
        lambda: rfc1902.Integer(rng.choice((0, -1, 127, 128, -128, -129, 2**31 - 1, -(2**31),
                                            rng.randrange(-(2**31), 2**31)))),
        lambda: rfc1902.OctetString(octets),
        lambda: rfc1902.ObjectIdentifier(random_oid(rng)),
        lambda: rfc1902.IpAddress(bytes(rng.randrange(256) for _ in range(4))),
        lambda: rfc1902.Counter32(unsigned32),
        lambda: rfc1902.Gauge32(unsigned32),
        lambda: rfc1902.TimeTicks(unsigned32),
        lambda: rfc1902.Opaque(octets),
        lambda: rfc1902.Null(""),
    ]
    if version == ber.VERSION_2C:
        makers += [
            lambda: rfc1902.Counter64(rng.choice((0, 2**63, 2**64 - 1, 2**32, rng.randrange(2**64)))),
            lambda: rfc1905.noSuchObject, lambda: rfc1905.noSuchInstance, lambda: rfc1905.endOfMibView,
        ]
    return rng.choice(makers)()


def encoded(version: int, community: str, pdu: Any) -> bytes:
    """A message carrying ``pdu``, encoded by pyasn1."""
    module = MODULES[version]
    message = module.Message()
    module.apiMessage.set_defaults(message)
    module.apiMessage.set_community(message, community)
    module.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


def response(version: int, request_id: int, varbinds: list[tuple[tuple[int, ...], Any]],
             status: int = 0, index: int = 0, community: str = "public") -> bytes:
    """A Response message encoded by pyasn1."""
    module = MODULES[version]
    pdu = RESPONSES[version]()
    module.apiPDU.set_defaults(pdu)
    module.apiPDU.set_request_id(pdu, request_id)
    module.apiPDU.set_error_status(pdu, status)
    module.apiPDU.set_error_index(pdu, index)
    module.apiPDU.set_varbinds(pdu, varbinds)
    return encoded(version, community, pdu)


def oracle(data: bytes, version: int) -> tuple[int, int, int, list[tuple[tuple[int, ...], Any]]]:
    """What pysnmp reads from a Response message, in ``ber``'s terms."""
    module = MODULES[version]
    message, rest = decoder.decode(data, asn1Spec=module.Message())
    assert rest == b""
    assert int(module.apiMessage.get_version(message)) == version
    pdu = module.apiMessage.get_pdu(message)
    assert pdu.tagSet == RESPONSES[version].tagSet
    return (
        int(module.apiPDU.get_request_id(pdu)), int(module.apiPDU.get_error_status(pdu)),
        int(pdu["error-index"]),  # pysnmp's get_error_index clamps it to the varbinds, for messages only
        [(tuple(name), decode_value(value)) for name, value in module.apiPDU.get_varbinds(pdu)],
    )


def generated_responses(version: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    messages = []
    for _ in range(CASES):
        varbinds = [(random_oid(rng), random_value(rng, version)) for _ in range(rng.choice((0, 1, 5, 30)))]
        request_id = rng.choice((0, 1, -1, 2**31 - 1, -(2**31), rng.randrange(-(2**31), 2**31)))
        status = rng.choice((0, 0, 1, 5, 18))
        index = rng.randrange(len(varbinds) + 1)
        messages.append(response(version, request_id, varbinds, status, index, rng.choice(("", "public"))))
    return messages


def every_type_response() -> bytes:
    """A v2c response with one varbind of every type, two-octet lengths included."""
    rng = random.Random(7)
    values = [rfc1902.Integer(-5), rfc1902.OctetString(b"x" * 200), rfc1902.OctetString(b""),
              rfc1902.ObjectIdentifier((1, 3, 6, 1, 4, 1, 9, 1, 2**32 - 1)), rfc1902.IpAddress("10.1.2.3"),
              rfc1902.Counter32(7), rfc1902.Gauge32(2**32 - 1), rfc1902.TimeTicks(123456),
              rfc1902.Opaque(b"\x9f\x78\x04\x00\x00\x00\x00"), rfc1902.Counter64(2**64 - 1), rfc1902.Null(""),
              rfc1905.noSuchObject, rfc1905.noSuchInstance, rfc1905.endOfMibView]
    return response(ber.VERSION_2C, 424242, [(random_oid(rng, 14), value) for value in values])


MIXED = every_type_response()
VARBIND_LIST = MIXED.index(b"\x30\x82", 4)
"""Where the varbind list starts (after the header, version, community and the PDU's integers)."""


def with_length(data: bytes, position: int, delta: int) -> bytes:
    """``data`` with the two-octet long-form length of the element at ``position`` changed."""
    length = int.from_bytes(data[position + 2:position + 4], "big") + delta
    return data[:position + 2] + length.to_bytes(2, "big") + data[position + 4:]


@pytest.mark.parametrize("version", [ber.VERSION_1, ber.VERSION_2C])
def test_generated_responses_read_as_pysnmp_reads_them(version: int) -> None:
    for data in generated_responses(version, seed=version):
        assert ber.decode_response(data, version) == oracle(data, version)


def test_every_value_type_reads_as_the_poller_expects() -> None:
    request_id, status, index, varbinds = ber.decode_response(MIXED)
    assert (request_id, status, index) == (424242, 0, 0)
    assert [value for _, value in varbinds] == [
        -5, b"x" * 200, b"", "1.3.6.1.4.1.9.1.4294967295", "10.1.2.3", 7, 2**32 - 1, 123456,
        b"\x9f\x78\x04\x00\x00\x00\x00", 2**64 - 1, b"", None, None, ber.END_OF_MIB_VIEW,
    ]


def test_a_real_switch_answer_reads_as_pysnmp_reads_it(shared_testdata: Path) -> None:
    """The varbinds of a real recording (``oid|tag|value`` lines), answered as one response."""
    types = {"2": rfc1902.Integer, "4": rfc1902.OctetString, "6": rfc1902.ObjectIdentifier,
             "64": rfc1902.IpAddress, "65": rfc1902.Counter32, "66": rfc1902.Gauge32,
             "67": rfc1902.TimeTicks, "70": rfc1902.Counter64}
    varbinds = []
    recording = shared_testdata / "snmprec" / "switches" / "XMG1915-10EP.snmprec"
    for line in recording.read_text(errors="replace").splitlines():
        oid, tag, text = line.split("|", 2)
        name = tuple(map(int, oid.split(".")))
        if tag == "4x":
            varbinds.append((name, rfc1902.OctetString(bytes.fromhex(text))))
        elif tag in types:
            cast = int if tag in ("2", "65", "66", "67", "70") else str
            varbinds.append((name, types[tag](cast(text) if tag != "4" else text.encode())))
    assert len(varbinds) > 300
    data = response(ber.VERSION_2C, 99, varbinds)
    assert ber.decode_response(data) == oracle(data, ber.VERSION_2C)


@pytest.mark.parametrize("pdu", [ber.GET, ber.GET_NEXT, ber.GET_BULK])
@pytest.mark.parametrize("version", [ber.VERSION_1, ber.VERSION_2C])
def test_requests_are_the_bytes_pyasn1_encodes(version: int, pdu: int) -> None:
    if pdu == ber.GET_BULK and version == ber.VERSION_1:
        with pytest.raises(ber.BerError):
            ber.encode_request(version, b"public", pdu, 1, [(1, 3, 6)], 0, 10)
        return
    module = MODULES[version]
    kinds = {ber.GET: module.GetRequestPDU, ber.GET_NEXT: module.GetNextRequestPDU}
    rng = random.Random(pdu)
    for _ in range(CASES // 3):
        oids = [random_oid(rng) for _ in range(rng.choice((1, 3, 20)))]
        request_id = rng.choice((0, 1, 127, 128, 2**31 - 1, rng.randrange(2**31)))
        community = rng.choice(("", "public", "c" * 200))
        bulk = pdu == ber.GET_BULK
        repeaters, repetitions = (rng.randrange(3), rng.choice((1, 25, 128, 300))) if bulk else (0, 0)
        ours = ber.encode_request(version, community.encode(), pdu, request_id, oids, repeaters, repetitions)
        request = V2C.GetBulkRequestPDU() if pdu == ber.GET_BULK else kinds[pdu]()
        module.apiPDU.set_defaults(request)
        module.apiPDU.set_request_id(request, request_id)
        module.apiPDU.set_varbinds(request, [(oid, rfc1902.Null("")) for oid in oids])
        if pdu == ber.GET_BULK:
            V2C.apiBulkPDU.set_non_repeaters(request, repeaters)
            V2C.apiBulkPDU.set_max_repetitions(request, repetitions)
        assert ours == encoded(version, community, request)
        decoded, rest = decoder.decode(ours, asn1Spec=module.Message())
        assert rest == b""
        varbinds = module.apiPDU.get_varbinds(module.apiMessage.get_pdu(decoded))
        assert [(tuple(name), value) for name, value in varbinds] == [(oid, rfc1902.Null("")) for oid in oids]


def test_oids_snmp_does_not_allow_are_not_encoded() -> None:
    for oid in [(1,), (3, 1), (1, 40), (1, 3, 2**32), (1, 3, -1), (1, 3, *range(127))]:
        with pytest.raises(ber.BerError):
            ber.encode_oid(oid)


def tlv(tag: int, contents: bytes) -> bytes:
    """A TLV with a short- or two-octet long-form length."""
    length = bytes((len(contents),)) if len(contents) < 128 else b"\x82" + len(contents).to_bytes(2, "big")
    return bytes((tag,)) + length + contents


def message_with(value: bytes, name: bytes = tlv(0x06, b"\x2b\x06\x01"), version: int = ber.VERSION_2C,
                 pdu: int = ber.RESPONSE) -> bytes:
    """A hand-made Response whose one varbind has the raw ``value`` (and ``name``) TLVs."""
    body = tlv(0x02, b"\x01") + tlv(0x02, b"\x00") + tlv(0x02, b"\x00") + tlv(0x30, tlv(0x30, name + value))
    return tlv(0x30, tlv(0x02, bytes((version,))) + tlv(0x04, b"public") + tlv(pdu, body))


def test_the_hand_made_message_is_well_formed() -> None:
    """The base of the hostile cases below reads fine, so each case fails for its own reason."""
    assert ber.decode_response(message_with(tlv(0x02, b"\x05"))) == (1, 0, 0, [((1, 3, 6, 1), 5)])


@pytest.mark.parametrize(("name", "value"), [
    ("Counter32 negative", tlv(0x41, b"\xff")),
    ("Counter32 above 2^32-1", tlv(0x41, b"\x01\x00\x00\x00\x00")),
    ("Integer above 2^31-1", tlv(0x02, b"\x00\x80\x00\x00\x00")),
    ("Counter64 above 2^64-1", tlv(0x46, b"\x01" + bytes(8))),
    ("Counter64 negative", tlv(0x46, b"\x80")),
    ("IpAddress of 5 octets", tlv(0x40, b"\x01\x02\x03\x04\x05")),
    ("IpAddress of 3 octets", tlv(0x40, b"\x01\x02\x03")),
    ("NULL with contents", tlv(0x05, b"\x00")),
    ("endOfMibView with contents", tlv(0x82, b"\x00")),
    ("unknown tag (NsapAddress)", tlv(0x45, b"\x01")),
    ("constructed value", tlv(0x30, tlv(0x02, b"\x01"))),
    ("OID ending inside an arc", tlv(0x06, b"\x2b\x86")),
    ("OID with a non-minimal arc", tlv(0x06, b"\x2b\x80\x01")),
])
def test_values_out_of_their_type_are_refused_as_pysnmp_refuses_them(name: str, value: bytes) -> None:
    data = message_with(value)
    with pytest.raises(ber.BerError):
        ber.decode_response(data)
    with pytest.raises(PyAsn1Error):
        oracle(data, ber.VERSION_2C)


@pytest.mark.parametrize(("name", "data"), [
    ("integer of 10 octets", message_with(tlv(0x46, bytes(10)))),
    ("empty INTEGER (X.690 8.3.1)", message_with(tlv(0x02, b""))),
    ("empty OID", message_with(tlv(0x02, b"\x01"), name=tlv(0x06, b""))),
    ("OID of 129 arcs", message_with(tlv(0x02, b"\x01"), name=tlv(0x06, b"\x2b" + b"\x01" * 127))),
    ("OID arc above 2^32-1", message_with(tlv(0x02, b"\x01"), name=tlv(0x06, b"\x2b\x90\x80\x80\x80\x00"))),
    ("no value", message_with(b"")),
    ("value tag without a length", message_with(b"\x02")),
    ("two values", message_with(tlv(0x02, b"\x01") * 2)),
    ("a request, not a response", message_with(tlv(0x02, b"\x01"), pdu=ber.GET)),
    ("a v1 message read as v2c", message_with(tlv(0x02, b"\x01"), version=ber.VERSION_1)),
    ("a version 3 message", message_with(tlv(0x02, b"\x01"), version=3)),
    ("message length one too long", with_length(MIXED, 0, 1)),
    ("message length one too short", with_length(MIXED, 0, -1)),
    ("varbind list longer than the PDU", with_length(MIXED, VARBIND_LIST, 1)),
    ("varbind list shorter than the PDU", with_length(MIXED, VARBIND_LIST, -1)),
    ("indefinite length", b"\x30\x80" + message_with(tlv(0x02, b"\x01"))[2:] + b"\x00\x00"),
    ("a huge length claim", b"\x30\x84\xff\xff\xff\xff" + message_with(tlv(0x02, b"\x01"))[2:]),
    ("more length octets than any datagram needs", b"\x30\x85\x00\x00\x00\x00\x10" + b"\x00" * 16),
    ("a high tag number", message_with(b"\x1f\x81\x01\x00")),
    ("deep nesting", b"\x30\x84\x00\x0f\x42\x40" + b"\x30\x84\x00\x0f\x42\x40" * 100_000),
    ("deep nesting in a value", message_with(b"\x30\x80" * 60)),
    ("empty datagram", b""),
    ("garbage", b"\x30\x05garbage-that-is-not-ber"),
])
def test_malformed_messages_are_ber_errors(name: str, data: bytes) -> None:
    with pytest.raises(ber.BerError):
        ber.decode_response(data)


def test_counter64_and_exceptions_do_not_exist_in_v1() -> None:
    for value in (tlv(0x46, b"\x01"), tlv(0x80, b""), tlv(0x82, b"")):
        with pytest.raises(ber.BerError):
            ber.decode_response(message_with(value, version=ber.VERSION_1), ber.VERSION_1)


def test_every_truncation_and_any_trailing_octet_is_a_ber_error() -> None:
    for end in range(len(MIXED)):
        with pytest.raises(ber.BerError):
            ber.decode_response(MIXED[:end])
    for tail in (b"\x00", b"\x00\x00", b"\x30\x00", MIXED):
        with pytest.raises(ber.BerError):
            ber.decode_response(MIXED + tail)


def test_every_wrong_length_octet_is_a_ber_error_or_reads_as_pyasn1_reads_it() -> None:
    """Each octet raised and lowered by one (lengths among them): refused, or read as pysnmp reads it
    when the change happens to make another well-formed message."""
    refused = 0
    for position in range(len(MIXED)):
        for change in (-1, 1, 0x80):
            mutated = bytearray(MIXED)
            mutated[position] = (mutated[position] + change) % 256
            try:
                ours = ber.decode_response(bytes(mutated))
            except ber.BerError:
                refused += 1
                continue
            assert ours == oracle(bytes(mutated), ber.VERSION_2C)
    assert refused > len(MIXED) // 2  # changes in strings and arcs often keep it well-formed


def test_random_corruption_is_a_ber_error_or_reads_as_pyasn1_reads_it() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        mutated = bytearray(MIXED)
        for _ in range(rng.randrange(1, 4)):
            position = rng.randrange(len(mutated))
            action = rng.randrange(3)
            if action == 0:
                mutated[position] = rng.randrange(256)
            elif action == 1:
                del mutated[position]
            else:
                mutated.insert(position, rng.randrange(256))
        try:
            ours = ber.decode_response(bytes(mutated))
        except ber.BerError:
            continue
        assert ours == oracle(bytes(mutated), ber.VERSION_2C)

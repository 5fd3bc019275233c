"""The pure parts of SNMP polling: value decoding, percentages, bit fields, table assembly."""

from __future__ import annotations

import msgspec
import pytest

from collector.sources.snmp.poll import finish_fdb, interface_speed, merge_facts, supply_level
from collector.sources.snmp.profiles import (
    Column,
    IndexPart,
    Profile,
    Table,
    assemble_table,
    convert,
    convert_scalars,
    decode_bits,
    load_profiles,
    parse_index,
)
from collector.sources.snmp.session import Credentials

PRINTER = next(p for p in load_profiles() if p.name == "printer")
ERROR_BITS = PRINTER.mappings["printer_error_bits"]
UPS_MIB = next(p for p in load_profiles() if p.name == "ups")
APC = next(p for p in load_profiles() if p.name == "apc-powernet")
APC_UPS = "1.3.6.1.4.1.318.1.1.1"
"""PowerNet-MIB ``ups`` branch: .2 battery, .3 input, .4 output."""


@pytest.mark.parametrize(
    ("data", "conditions"),
    [
        (b"", []),
        (b"\x00", []),
        (b"\x20\x00", ["low_toner"]),  # Sharp MX-3570N
        (b"\x80", ["low_paper"]),  # bit 0 is the most significant bit
        (b"\x0c", ["door_open", "jammed"]),
        (b"\x01\x02", ["service_requested", "overdue_prevent_maint"]),
        (b"\x00\x01", ["bit_15"]),  # a bit the MIB does not name is kept, not dropped
    ],
)
def test_printer_error_state_is_an_msb_first_bit_field(data: bytes, conditions: list[str]) -> None:
    assert decode_bits(data, ERROR_BITS) == conditions


@pytest.mark.parametrize(
    ("level", "maximum", "expected"),
    [
        (54, 100, (54.0, None)),
        (11501, 12000, (95.8, None)),
        (0, 100, (0.0, None)),
        (-3, -2, (None, "some_remaining")),
        (-2, 100, (None, "unknown")),
        (-1, 100, (None, "other")),
        (100, -2, (None, "max_unknown")),
        (5, -1, (None, "max_other")),
        (5, 0, (None, "invalid")),
        (-7, 100, (None, "invalid")),
        (120, 100, (None, "level_above_max")),
        (None, 100, (None, "not_reported")),
        (10, None, (None, "max_not_reported")),
    ],
)
def test_supply_percent_is_never_made_up(
    level: int | None, maximum: int | None, expected: tuple[float | None, str | None]
) -> None:
    assert supply_level(level, maximum) == expected


@pytest.mark.parametrize(
    ("speed", "high_speed", "bps"),
    [
        (100_000_000, 100, 100_000_000),
        (4_294_967_295, 10_000, 10_000_000_000),  # ifSpeed saturated: ifHighSpeed is in Mb/s
        (None, 1000, 1_000_000_000),
        (10_000_000, None, 10_000_000),
        (None, None, None),
    ],
)
def test_interface_speed(speed: int | None, high_speed: int | None, bps: int | None) -> None:
    assert interface_speed(speed, high_speed) == bps


def test_parse_index_layouts() -> None:
    vlan_mac = (IndexPart("vlan"), IndexPart("mac", "mac"))
    assert parse_index((1, 0, 161, 89, 90, 110, 23), vlan_mac) == {"vlan": 1, "mac": "00:a1:59:5a:6e:17"}
    assert parse_index((1, 0, 161, 89), vlan_mac) is None
    assert parse_index((1, 2), (IndexPart("if_index"),)) is None


def test_assemble_table_joins_columns_and_drops_malformed_instances() -> None:
    table = Table(
        index=(IndexPart("if_index"),),
        columns={
            "name": Column("1.3.6.1.2.1.31.1.1.1.1", "text"),
            "oper": Column("1.3.6.1.2.1.2.2.1.8", map="m"),
        },
    )
    walked = {
        "name": [("1.3.6.1.2.1.31.1.1.1.1.2", b"ge2\x00"), ("1.3.6.1.2.1.31.1.1.1.1.1", b"ge1"),
                 ("1.3.6.1.2.1.31.1.1.1.1.9.9", b"bad index")],
        "oper": [("1.3.6.1.2.1.2.2.1.8.1", 1), ("1.3.6.1.2.1.2.2.1.8.3", 9)],
    }
    assert assemble_table(table, walked, {"m": {1: "up"}}) == [
        {"if_index": 1, "name": "ge1", "oper": "up"},
        {"if_index": 2, "name": "ge2", "oper": None},
        {"if_index": 3, "name": None, "oper": "unknown_9"},
    ]


@pytest.mark.parametrize(
    ("column", "value", "fact"),
    [
        (Column("1", "text"), b"  HP LaserJet\x00\x00", "HP LaserJet"),
        (Column("1", "text"), b"", None),
        (Column("1", "mac"), b"\x3c\x2a\xf4\xbf\xf5\x1b", "3c:2a:f4:bf:f5:1b"),
        (Column("1", "mac"), b"B0:BE:76:3B:5D:E1", "b0:be:76:3b:5d:e1"),
        (Column("1", "octets"), b"Gi0/1", "Gi0/1"),
        (Column("1", "octets"), b"\x00\x11\x22\x33\x44\x55", "00:11:22:33:44:55"),
        (Column("1", scale=0.1), 2285, 228.5),
        (Column("1"), b"not an integer", None),  # a wrong value type reads as absent
    ],
)
def test_convert(column: Column, value: int | bytes, fact: object) -> None:
    expected = pytest.approx(fact) if isinstance(fact, float) else fact
    assert convert(column, value, {}) == expected


def test_vendor_profiles_match_by_sys_object_id_prefix_or_descr() -> None:
    eaton = next(p for p in load_profiles() if p.name == "eaton-xups")
    assert eaton.matches("1.3.6.1.4.1.534.1", None)
    assert not eaton.matches("1.3.6.1.4.1.5340.1", None)
    assert not eaton.matches(None, None)
    by_descr = msgspec.convert(
        {"name": "x", "section": "ups", "match": {"sys_descr": "^ConnectUPS"}}, Profile
    )
    assert by_descr.matches(None, "ConnectUPS Web/SNMP Card V4.38")
    assert PRINTER.matches(None, None)  # generic


def test_a_profile_naming_an_unknown_mapping_fails_to_load() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown map"):
        msgspec.yaml.decode(b"{name: x, section: ups, scalars: {a: {oid: '1.3', map: nope}}}", type=Profile)


def test_fdb_maps_bridge_ports_to_if_index_and_prefers_q_bridge() -> None:
    ports = [{"port": 1, "if_index": 10101}]
    fdb = [{"mac": "aa:aa:aa:aa:aa:aa", "port": 1, "status": "learned"},
           {"mac": "bb:bb:bb:bb:bb:bb", "port": 2, "status": "learned"}]
    qfdb = [{"vlan": 20, "mac": "aa:aa:aa:aa:aa:aa", "port": 1, "status": "learned"}]
    assert finish_fdb(ports, fdb, qfdb) == [
        {"mac": "aa:aa:aa:aa:aa:aa", "vlan": 20, "port": 1, "if_index": 10101, "status": "learned"},
        {"mac": "bb:bb:bb:bb:bb:bb", "vlan": None, "port": 2, "if_index": None, "status": "learned"},
    ]


def test_a_vendor_profile_fills_gaps_but_never_blanks_a_value() -> None:
    facts = {"ups": {"charge_percent": 90, "load_percent": None}}
    merge_facts(facts, {"ups": {"charge_percent": None, "load_percent": 40, "runtime_minutes": None}})
    assert facts == {"ups": {"charge_percent": 90, "load_percent": 40, "runtime_minutes": None}}


def test_credentials_never_show_secrets() -> None:
    v2c = Credentials(community="s3cret-community")
    v3 = Credentials(version="3", user="mon", auth_protocol="sha256", auth_key="auth-s3cret",
                     priv_protocol="aes256", priv_key="priv-s3cret")
    for text in (repr(v2c), str(v2c), repr(v3), f"{v3}", repr([v2c, v3])):
        assert "s3cret" not in text
    assert "mon" in repr(v3) and "sha256" in repr(v3)


def test_ups_profiles_speak_the_ups_mib_vocabulary() -> None:
    """Vendor UPS profiles name only facts of ups.yaml, plus replace_battery (an alarm in RFC 1628)."""
    vocabulary = set(UPS_MIB.scalars) | {"replace_battery"}
    ups_profiles = [p.name for p in load_profiles() if p.section == "ups"]
    assert {"ups", "apc-powernet", "eaton-xups", "megatec-netagent"} <= set(ups_profiles)
    for profile in load_profiles():
        if profile.section == "ups":
            assert set(profile.scalars) <= vocabulary, profile.name


def test_apc_profile_matches_apc_sys_object_ids_only() -> None:
    assert APC.matches("1.3.6.1.4.1.318.1.3.27", None)  # Smart-UPS behind an AP963x card
    assert not APC.matches("1.3.6.1.4.1.3180.1", None)
    assert not APC.matches(None, "APC Web/SNMP Management Card")  # matched by sysObjectID only


def test_apc_timeticks_become_seconds_and_minutes() -> None:
    answers = {
        f"{APC_UPS}.2.1.1.0": 4,  # upsBasicBatteryStatus batteryInFaultCondition
        f"{APC_UPS}.2.1.2.0": 4550,  # upsBasicBatteryTimeOnBattery: 45.5 s in TimeTicks
        f"{APC_UPS}.2.2.1.0": 87,
        f"{APC_UPS}.2.2.3.0": 123000,  # upsAdvBatteryRunTimeRemaining: 1230 s in TimeTicks
        f"{APC_UPS}.2.2.4.0": 2,
        f"{APC_UPS}.2.2.8.0": 26,
        f"{APC_UPS}.3.2.1.0": 0,
        f"{APC_UPS}.4.1.1.0": 12,  # onSmartTrim
        f"{APC_UPS}.4.2.1.0": 218,
    }  # upsAdvOutputLoad not answered
    facts = convert_scalars(APC, answers)
    assert facts == {
        "battery_status": "fault",
        "seconds_on_battery": pytest.approx(45.5),
        "charge_percent": 87,
        "runtime_minutes": pytest.approx(20.5),
        "replace_battery": "yes",
        "battery_voltage": 26,
        "input_voltage": 0,
        "output_source": "reducer",
        "output_voltage": 218,
        "load_percent": None,
    }


@pytest.mark.parametrize(
    ("status", "source"),
    [
        (2, "normal"),  # onLine
        (3, "battery"),  # onBattery
        (4, "booster"),  # onSmartBoost
        (12, "reducer"),  # onSmartTrim
        (9, "bypass"),  # switchedBypass
        (7, "none"),  # off
        (15, "battery"),  # onBatteryTest: the load runs on the battery
        (1, "other"),  # unknown
        (99, "unknown_99"),  # not in PowerNet-MIB: kept, not guessed
    ],
)
def test_apc_output_status_maps_onto_ups_mib_output_source(status: int, source: str) -> None:
    assert convert(APC.scalars["output_source"], status, APC.mappings) == source


@pytest.mark.parametrize(("indicator", "replace"), [(1, "no"), (2, "yes"), (0, "unknown_0"), (None, None)])
def test_apc_replace_indicator(indicator: int | None, replace: str | None) -> None:
    oid = APC.scalars["replace_battery"].oid
    assert oid == f"{APC_UPS}.2.2.4.0"
    assert convert_scalars(APC, {oid: indicator})["replace_battery"] == replace

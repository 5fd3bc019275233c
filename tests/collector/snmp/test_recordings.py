"""Every real recording polls cleanly over snmpsim and yields what its category promises."""

from __future__ import annotations

import asyncio
from typing import Any

from collector.sources.snmp.poll import DevicePoll, Target, poll_device
from collector.sources.snmp.profiles import Profile
from collector.sources.snmp.session import Credentials
from tests.collector.snmp.conftest import V3, Simulator


def by(rows: list[dict[str, Any]], key: str, value: object) -> dict[str, Any]:
    """The one row whose ``key`` is ``value``."""
    (row,) = [row for row in rows if row[key] == value]
    return row


def pick(facts: dict[str, Any], *keys: str) -> dict[str, Any]:
    """Only ``keys`` of ``facts``, for exact comparisons."""
    return {key: facts[key] for key in keys}


def test_every_recording_polls_cleanly(snmpsim: Simulator, polls: dict[str, DevicePoll]) -> None:
    promised = {"printers": {"supplies", "printer"}, "switches": {"interfaces"}, "ups": {"ups"}}
    assert sorted(snmpsim.recordings) == sorted(promised)
    for category, names in snmpsim.recordings.items():
        for name in names:
            poll = polls[name]
            assert poll.errors == {}, name
            assert poll.facts["system"]["object_id"].startswith("1.3.6.1.4.1."), name
            assert promised[category] <= poll.facts.keys(), name


def test_printer_supplies_are_sane_percentages_or_say_why_not(
    snmpsim: Simulator, polls: dict[str, DevicePoll]
) -> None:
    for name in snmpsim.recordings["printers"]:
        supplies = polls[name].facts["supplies"]
        assert supplies, name
        for supply in supplies:
            if supply["percent"] is None:
                assert supply["percent_reason"], (name, supply)
            else:
                assert 0 <= supply["percent"] <= 100, (name, supply)
                assert supply["percent_reason"] is None, (name, supply)


def test_jetdirect(polls: dict[str, DevicePoll]) -> None:
    facts = polls["jetdirect"].facts
    assert facts["printer"]["model"] == "HP Color LaserJet M452nw"
    assert [(s["description"].split()[0], s["percent"]) for s in facts["supplies"]] == [
        ("Black", 54.0), ("Cyan", 44.0), ("Magenta", 76.0), ("Yellow", 71.0)
    ]


def test_brother_special_levels_are_never_a_percent(polls: dict[str, DevicePoll]) -> None:
    facts = polls["brother"].facts
    toner = by(facts["supplies"], "description", "Black Toner Cartridge")
    assert pick(toner, "level", "max", "percent", "percent_reason") == {
        "level": -3, "max": -2, "percent": None, "percent_reason": "some_remaining"
    }
    drum = by(facts["supplies"], "description", "Drum Unit")
    assert pick(drum, "type", "percent") == {"type": "opc", "percent": 95.8}  # 11501 / 12000
    assert facts["printer"]["model"] == "Brother MFC-L2710DW series"
    assert facts["printer"]["conditions"] == []  # hrPrinterDetectedErrorState 0x00


def test_sharp(polls: dict[str, DevicePoll]) -> None:
    facts = polls["sharp"].facts
    assert len(facts["supplies"]) == 14
    assert by(facts["supplies"], "description", "Magenta Toner")["percent"] == 19.0
    waste = by(facts["supplies"], "description", "Waste Toner")
    assert pick(waste, "type", "percent", "percent_reason") == {
        "type": "waste_toner", "percent": None, "percent_reason": "max_unknown"
    }
    assert pick(facts["printer"], "model", "serial", "page_count", "conditions", "device_status") == {
        "model": "SHARP MX-3570N",
        "serial": "6509415X00",
        "page_count": 121104,
        "conditions": ["low_toner"],  # 0x2000: bit 2 of byte 0, MSB first
        "device_status": "warning",
    }


def test_xerox(polls: dict[str, DevicePoll]) -> None:
    supplies = polls["xerox"].facts["supplies"]
    assert len(supplies) == 12
    assert by(supplies, "supply", 1)["percent"] == 20.0  # 1060 / 5300
    assert by(supplies, "supply", 10)["description"].startswith("Waste Toner Container")
    assert by(supplies, "supply", 10)["percent"] == 5.0


def test_jetstream_interfaces_without_ifxtable(polls: dict[str, DevicePoll]) -> None:
    interfaces = polls["jetstream"].facts["interfaces"]
    assert len(interfaces) == 55
    port = by(interfaces, "if_index", 49153)
    assert pick(port, "name", "oper_status", "speed_bps", "counter_bits") == {
        "name": "gigabitEthernet 1/0/1 : copper", "oper_status": "up", "speed_bps": 100_000_000,
        "counter_bits": 32,
    }
    assert port["mac"] == "b0:be:76:3b:5d:e1"  # recorded as text, not six octets
    assert "fdb" not in polls["jetstream"].facts  # no BRIDGE-MIB in the recording


def test_routeros_entity_and_64_bit_counters(polls: dict[str, DevicePoll]) -> None:
    facts = polls["routeros"].facts
    assert facts["entity"]["descr"] == "RouterOS 6.40.5 (stable) on RB952Ui-5ac2nD"
    wan = by(facts["interfaces"], "name", "WAN")
    assert pick(wan, "oper_status", "speed_bps", "counter_bits", "in_octets") == {
        "oper_status": "up", "speed_bps": 100_000_000, "counter_bits": 64, "in_octets": 6422347895
    }
    assert "fdb" not in facts  # only BRIDGE-MIB scalars are recorded: no ports, no forwarding entries


def test_zyxel_interfaces_and_qbridge_fdb(polls: dict[str, DevicePoll]) -> None:
    facts = polls["XMG1915-10EP"].facts
    port2 = by(facts["interfaces"], "if_index", 2)
    assert pick(port2, "name", "alias", "admin_status", "oper_status", "speed_bps") == {
        "name": "swp01", "alias": "Port2", "admin_status": "up", "oper_status": "up",
        "speed_bps": 1_000_000_000,
    }
    assert by(facts["interfaces"], "if_index", 10)["admin_status"] == "down"
    entry = by(facts["fdb"], "mac", "00:a1:59:5a:6e:17")
    assert pick(entry, "vlan", "port", "if_index") == {"vlan": 1, "port": 9, "if_index": 9}
    assert facts["lldp"] == []  # local port table only, no neighbours


def test_alaxala_large_qbridge_fdb(polls: dict[str, DevicePoll]) -> None:
    facts = polls["alaxala_ax2430s"].facts
    assert len(facts["fdb"]) == 121
    assert all(entry["vlan"] == 1 and entry["if_index"] is not None for entry in facts["fdb"])
    entry = by(facts["fdb"], "mac", "00:07:0e:47:d7:4c")
    assert pick(entry, "port", "if_index") == {"port": 33, "if_index": 33}
    uplink = by(facts["interfaces"], "name", "GigabitEther 0/1")
    assert pick(uplink, "speed_bps", "counter_bits", "in_octets") == {
        "speed_bps": 1_000_000_000, "counter_bits": 64, "in_octets": 48164983290084
    }


def test_netagent_ups_from_vendor_and_rfc1628(polls: dict[str, DevicePoll]) -> None:
    poll = polls["netagent2"]
    assert poll.profiles[-2:] == ["ups", "megatec-netagent"]
    assert poll.facts["ups"] == {
        "battery_status": "normal",
        "seconds_on_battery": None,
        "runtime_minutes": None,
        "charge_percent": 100,
        "battery_voltage": 269.0,  # UPS-MIB upsBatteryVoltage, 0.1 V
        "input_voltage": 254.5,
        "output_source": "reducer",  # upsBaseOutputStatus onBuck
        "output_voltage": 228.5,
        "load_percent": 44,
        "on_battery": False,
    }


def test_eaton_ups_from_xups(polls: dict[str, DevicePoll]) -> None:
    ups = polls["eatonups"].facts["ups"]
    keys = ("charge_percent", "battery_voltage", "input_voltage", "output_voltage", "on_battery")
    assert pick(ups, *keys) == {
        "charge_percent": 100, "battery_voltage": 78, "input_voltage": 228, "output_voltage": 230,
        "on_battery": None,  # xupsOutputSource is not in the recording: unknown, not "on mains"
    }


def test_apc_smart_ups_on_mains(own_polls: dict[str, DevicePoll]) -> None:
    poll = own_polls["apc-smt1500-mains"]
    assert poll.errors == {}
    assert poll.profiles == ["system", "if-mib", "apc-powernet"]  # no UPS-MIB objects on this card
    assert poll.facts["system"]["object_id"] == "1.3.6.1.4.1.318.1.3.27"
    assert poll.facts["ups"] == {
        "battery_status": "normal",
        "seconds_on_battery": 0.0,
        "charge_percent": 100,
        "runtime_minutes": 46.0,  # upsAdvBatteryRunTimeRemaining 276000 TimeTicks = 2760 s
        "replace_battery": "no",
        "battery_voltage": 27,
        "input_voltage": 231,
        "output_source": "normal",  # upsBasicOutputStatus onLine(2)
        "output_voltage": 230,
        "load_percent": 23,
        "on_battery": False,
    }
    (nic,) = poll.facts["interfaces"]
    assert pick(nic, "name", "mac", "speed_bps", "oper_status") == {
        "name": "veth0", "mac": "00:c0:b7:a4:1c:2e", "speed_bps": 100_000_000, "oper_status": "up"
    }


def test_apc_smart_ups_on_battery_asking_for_a_new_battery(own_polls: dict[str, DevicePoll]) -> None:
    poll = own_polls["apc-smt750-battery"]
    assert poll.errors == {}
    assert poll.facts["ups"] == {
        "battery_status": "low",
        "seconds_on_battery": 312.0,  # upsBasicBatteryTimeOnBattery 31200 TimeTicks
        "charge_percent": 38,
        "runtime_minutes": 4.5,  # 27000 TimeTicks = 270 s
        "replace_battery": "yes",  # upsAdvBatteryReplaceIndicator batteryNeedsReplacing(2)
        "battery_voltage": 23,
        "input_voltage": 0,  # a blackout: mains reads 0 V, not "unknown"
        "output_source": "battery",
        "output_voltage": 230,
        "load_percent": 41,
        "on_battery": True,
    }


def test_v3_sha_aes128_selects_the_recording_by_context(snmpsim: Simulator, profiles: list[Profile]) -> None:
    credentials = Credentials(
        version="3", user=V3["user"], auth_protocol="sha", auth_key=V3["auth_key"],
        priv_protocol="aes128", priv_key=V3["priv_key"], context="sharp",
    )
    assert V3["auth_key"] not in repr(credentials) and V3["priv_key"] not in repr(credentials)
    poll = asyncio.run(poll_device(Target(host="127.0.0.1", port=snmpsim.port), credentials, profiles, 10.0))
    assert poll.errors == {}
    assert poll.facts["printer"]["serial"] == "6509415X00"


def test_wrong_v3_key_is_a_named_error(snmpsim: Simulator, profiles: list[Profile]) -> None:
    credentials = Credentials(
        version="3", user=V3["user"], auth_protocol="sha", auth_key="not-the-key",
        priv_protocol="aes128", priv_key=V3["priv_key"], context="sharp",
    )
    target = Target(host="127.0.0.1", port=snmpsim.port, timeout=0.5, retries=0)
    poll = asyncio.run(poll_device(target, credentials, profiles, 3.0))
    assert poll.facts == {} and poll.profiles == []
    assert set(poll.errors) == {"system.scalars"}

"""Correlation and port mapping on real forwarding tables: switch recordings via snmpsim, CLI samples."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

from collector.sources.discovery.correlate import (
    PortLocation,
    correlate,
    describe_move,
    describe_unknown,
    known_device,
    locate,
    moves,
    port_key,
    switch_table,
)
from collector.sources.discovery.model import Sighting
from collector.sources.snmp.poll import DevicePoll
from collector.sources.ssh.facts import parse_facts


def _cli(shared: Path, platform: str, command: str, sample: str) -> list[dict]:
    return parse_facts(platform, command, (shared / "cli" / sample).read_text()).records


def _ports_by_count(facts: dict) -> Counter:
    names = {i["if_index"]: i["name"] for i in facts["interfaces"]}
    return Counter(names.get(row["if_index"]) for row in facts["fdb"] if row["if_index"] in names)


def test_snmp_tables_uplink_by_many_macs_and_shared_ports(fdb_polls: dict[str, DevicePoll]) -> None:
    for device_id, (name, poll) in enumerate(sorted(fdb_polls.items())):
        counts = _ports_by_count(poll.facts)
        table = switch_table(device_id, name, poll.facts)
        assert table is not None
        mapped = locate([table])
        busiest, most = counts.most_common(1)[0]
        assert most >= 10
        assert [(u.port, u.reason, u.macs) for u in mapped.uplinks] == [(busiest, "many_macs", most)]
        assert {p.port for p in mapped.shared} == {port for port, n in counts.items() if 1 < n < 10}
        singles = [row for row in poll.facts["fdb"] if counts.get(_name(poll.facts, row["if_index"])) == 1]
        assert singles
        for row in singles:
            assert mapped.locations[row["mac"]] == PortLocation(
                switch_id=device_id, switch=name, port=_name(poll.facts, row["if_index"]), vlan=row["vlan"]
            )
        uplinked = {row["mac"] for row in poll.facts["fdb"] if _name(poll.facts, row["if_index"]) == busiest}
        assert uplinked.isdisjoint(mapped.locations)


def _name(facts: dict, if_index: int | None) -> str | None:
    return next((i["name"] for i in facts["interfaces"] if i["if_index"] == if_index), None)


def test_lldp_neighbour_and_another_switchs_mac_make_uplinks(fdb_polls: dict[str, DevicePoll]) -> None:
    xmg = copy.deepcopy(fdb_polls["XMG1915-10EP"].facts)
    alaxala = fdb_polls["alaxala_ax2430s"].facts
    counts = _ports_by_count(xmg)
    shared_port = next(port for port, n in counts.items() if 1 < n < 10)
    single_port = next(port for port, n in counts.items() if n == 1)
    bridge_port = next(r["port"] for r in xmg["fdb"] if _name(xmg, r["if_index"]) == shared_port)
    single_index = next(i["if_index"] for i in xmg["interfaces"] if i["name"] == single_port)
    # An LLDP neighbour on the shared port, as the poller reports one (local port = bridge port) ...
    xmg["lldp"] = [{"chassis_id": "00:12:e2:d8:a8:c2", "port_id": "0/1", "sys_name": "ax2430s",
                    "local_port": bridge_port, "local_port_name": None}]  # fmt: skip
    # ... and the AlaxalA's own MAC (its VLAN 1 interface) learned on the single-MAC port.
    alaxala_mac = next(i["mac"] for i in alaxala["interfaces"] if i["mac"])
    xmg["fdb"].append(
        {"mac": alaxala_mac, "vlan": 1, "port": single_index, "if_index": single_index, "status": None}
    )
    switches = [switch_table(1, "xmg", xmg), switch_table(2, "ax2430s", alaxala)]
    mapped = locate([s for s in switches if s is not None])
    reasons = {(u.switch, u.port): u.reason for u in mapped.uplinks}
    assert reasons[("xmg", shared_port)] == "neighbour"
    assert reasons[("xmg", single_port)] == "switch_behind"
    assert ("xmg", shared_port) not in {(p.switch, p.port) for p in mapped.shared}
    assert all(
        loc.port not in (shared_port, single_port) for loc in mapped.locations.values() if loc.switch == "xmg"
    )


def test_cli_tables_with_cdp_and_lldp_neighbours(shared_testdata: Path) -> None:
    cisco = {
        "mac_table": _cli(shared_testdata, "cisco_ios", "show mac address-table",
                          "cisco_ios/show_mac-address-table/cisco_ios_show_mac-address-table6.raw"),
        "neighbors": _cli(shared_testdata, "cisco_ios", "show cdp neighbors detail",
                          "cisco_ios/show_cdp_neighbors_detail/cisco_ios_show_cdp_neighbors_detail.raw"),
    }  # fmt: skip
    procurve = {
        "mac_table": _cli(shared_testdata, "hp_procurve", "show mac-address",
                          "hp_procurve/show_mac-address/hp_procurve_show_mac-address.raw"),
        "neighbors": _cli(shared_testdata, "hp_procurve", "show lldp info remote-device",
                          "hp_procurve/show_lldp_info_remote-device/hp_procurve_show_lldp_info_remote-device.raw"),
    }  # fmt: skip
    svi = _cli(shared_testdata, "cisco_ios", "show mac address-table",
               "cisco_ios/show_mac-address-table/cisco_ios_show_mac-address-table13.raw")  # fmt: skip
    tables = [
        switch_table(1, "c2960", cisco),
        switch_table(2, "procurve", procurve),
        switch_table(3, "c3850", {"mac_table": svi}),
    ]
    mapped = locate([t for t in tables if t is not None])
    uplinks = {(u.switch, u.port): u.reason for u in mapped.uplinks}
    # CDP spells the port out (GigabitEthernet1/0/22), the MAC table abbreviates it (Gi1/0/22).
    cdp_ports = {port_key(n["local_port"]) for n in cisco["neighbors"]}
    assert ("c2960", "Gi1/0/22") in uplinks and port_key("Gi1/0/22") in cdp_ports
    assert uplinks[("procurve", "25")] == "neighbour"
    gi22 = next(r["mac"] for r in cisco["mac_table"] if r["port"] == "Gi1/0/22")
    assert gi22 not in mapped.locations
    shared = {(p.switch, p.port): p.macs for p in mapped.shared}
    assert shared[("c2960", "Gi1/0/41")] == sorted(
        r["mac"] for r in cisco["mac_table"] if r["port"] == "Gi1/0/41"
    )
    assert mapped.locations["d0:52:a8:26:5d:8d"] == PortLocation(
        switch_id=1, switch="c2960", port="Gi1/0/3", vlan=2
    )
    # CPU and SVI (Vl87) entries are the switch's own MACs, never a host on a port.
    c3850 = next(t for t in tables if t is not None and t.name == "c3850")
    assert {r["mac"] for r in svi if r["port"].startswith("Vl")} <= set(c3850.own_macs)
    assert not any(m.startswith(("01:", "ff:")) for m in mapped.locations)


def test_correlate_matches_agents_polled_devices_and_unknowns(fdb_polls: dict[str, DevicePoll]) -> None:
    facts = fdb_polls["XMG1915-10EP"].facts
    table = switch_table(10, "xmg", facts)
    assert table is not None
    located = locate([table]).locations
    pc_mac, stranger_mac = sorted(located)[:2]
    pc_facts = {"hardware": {"network_interfaces": [
        {"name": "Ethernet", "mac": pc_mac, "addresses": ["10.5.0.21/24", "fe80::1/64"]},
        {"name": "Loopback", "mac": None, "addresses": ["127.0.0.1/8"]},
    ]}}  # fmt: skip
    known = [
        known_device(1, "pc", "buh-pc-21", pc_facts),
        known_device(10, "switch", "xmg", facts, address="10.5.0.2"),
    ]
    assert known[0].ips == ["10.5.0.21"] and known[1].ips == ["10.5.0.2"]
    sightings = [
        Sighting(ip="10.5.0.21", mac=pc_mac, names={"netbios": "BUH-PC-21"}),
        Sighting(ip="10.5.0.77", mac=stranger_mac),
        Sighting(ip="10.5.0.2", mac=None, method="icmp"),
        Sighting(ip="10.9.0.5", mac=None, method="icmp"),
    ]
    result = correlate(sightings, known, [table], arp={"10.9.0.5": "3c:52:82:00:00:99"})
    hosts = {h.mac or h.ips[0]: h for h in result.hosts}
    assert (hosts[pc_mac].device_id, hosts[pc_mac].location) == (1, located[pc_mac])
    assert hosts[pc_mac].names == {"netbios": "BUH-PC-21"} and hosts[pc_mac].seen_by == ["fdb", "sweep"]
    assert hosts[stranger_mac].device_id is None and hosts[stranger_mac].location == located[stranger_mac]
    assert hosts["10.5.0.2"].device_id == 10  # ICMP only: matched by the switch's address
    assert (
        hosts["3c:52:82:00:00:99"].ips == ["10.9.0.5"]
        and hosts["3c:52:82:00:00:99"].vendor == "Hewlett Packard"
    )
    fdb_only = set(located) - {pc_mac, stranger_mac}
    assert {m for m, h in hosts.items() if h.seen_by == ["fdb"]} == fdb_only
    assert not result.hosts[0].known and result.hosts[-1].known  # unknown ones first
    where = located[stranger_mac]
    text = describe_unknown(hosts[stranger_mac])
    assert (
        text.startswith(f"unknown device {stranger_mac}") and f"port {where.port}, VLAN {where.vlan}" in text
    )
    assert describe_unknown(hosts[stranger_mac], "uk").startswith(f"невідомий пристрій {stranger_mac}")


def test_moves_between_two_mappings(fdb_polls: dict[str, DevicePoll]) -> None:
    facts = copy.deepcopy(fdb_polls["XMG1915-10EP"].facts)
    before = locate([switch_table(1, "xmg", facts)]).locations  # type: ignore[list-item]
    mac = sorted(before)[0]
    target = next(i for i in facts["interfaces"] if i["name"] not in {loc.port for loc in before.values()})
    for row in facts["fdb"]:
        if row["mac"] == mac:
            row["if_index"] = row["port"] = target["if_index"]
    after = locate([switch_table(1, "xmg", facts)]).locations  # type: ignore[list-item]
    found = moves(before, after)
    assert [(m.mac, m.before, m.after.port) for m in found] == [(mac, before[mac], target["name"])]
    assert moves(before, before) == []
    assert describe_move(found[0], "PC X") == (
        f"PC X moved from switch xmg port {before[mac].port}, VLAN 1 "
        f"to switch xmg port {target['name']}, VLAN 1"
    )
    assert describe_move(found[0], "ПК X", "uk").startswith("ПК X переміщено: було комутатор xmg")

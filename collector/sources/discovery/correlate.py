"""Who is who on the LAN, and which switch port each MAC sits on. Pure: facts in, structs out.

Inputs are what the store already holds: agents' inventories (their network interfaces), polled
devices' facts (SNMP ``fdb``/``interfaces``/``lldp`` sections, SSH ``mac_table``/``neighbors``/
``arp`` records), and the sightings of a sweep. The adapters (``known_device``, ``switch_table``,
``arp_table``) turn a device's stored facts into the small structs the matching works on.

An access port is found by excluding uplinks: a port is an uplink when a neighbour (LLDP/CDP)
is seen on it, when it carries ``many_macs`` or more MACs, or when another polled switch's own
MAC is learned on it. Of the non-uplink ports a MAC is learned on (normally one), the one with
the fewest MACs wins. A non-uplink port with several MACs is reported as shared: an unmanaged
switch or hub under a desk (or an IP phone with a PC behind it).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import msgspec

from collector.sources.discovery.model import Sighting
from collector.sources.discovery.vendor import is_locally_administered, is_multicast, vendor_of

DEFAULT_MANY_MACS = 10
"""MACs on one port from which it counts as an uplink (a desk hub rarely has ten devices)."""

INTERNAL_PORT = re.compile(
    r"^(?:cpu|router|switch|self|drop|sup-eth\d*|vl(?:an)?-?\d+|vlanif\d+)$", re.IGNORECASE
)
"""MAC-table "ports" that are the switch itself (CPU, an SVI): their MACs are the switch's own."""

UplinkReason = Literal["neighbour", "many_macs", "switch_behind"]
Lang = Literal["en", "uk"]


class KnownDevice(msgspec.Struct, frozen=True, kw_only=True):
    """A device the store knows (an agent's PC, a polled switch/printer/UPS) and its addresses."""

    device_id: int
    kind: str
    name: str
    macs: list[str] = []
    ips: list[str] = []


class FdbEntry(msgspec.Struct, frozen=True, array_like=True):
    """One learned MAC on one port of a switch (``port`` is the name a human reads: Gi1/0/7, 25)."""

    mac: str
    port: str
    vlan: int | None = None


class SwitchTable(msgspec.Struct, frozen=True, kw_only=True):
    """A switch's forwarding table, its own MACs, and the ports where it sees a neighbour."""

    device_id: int
    name: str
    entries: list[FdbEntry]
    own_macs: list[str] = []
    neighbour_ports: list[str] = []


class PortLocation(msgspec.Struct, frozen=True, kw_only=True):
    """Where a MAC is plugged in."""

    switch_id: int
    switch: str
    port: str
    vlan: int | None = None


class Uplink(msgspec.Struct, frozen=True, kw_only=True):
    switch_id: int
    switch: str
    port: str
    reason: UplinkReason
    macs: int


class SharedPort(msgspec.Struct, frozen=True, kw_only=True):
    """An access (non-uplink) port with several MACs behind it."""

    switch_id: int
    switch: str
    port: str
    macs: list[str]


class PortMap(msgspec.Struct, frozen=True, kw_only=True):
    locations: dict[str, PortLocation]
    uplinks: list[Uplink]
    shared: list[SharedPort]


class Host(msgspec.Struct, kw_only=True):
    """One MAC (or, behind a router without an ARP table, one IP) with everything known about it."""

    mac: str | None
    ips: list[str] = []
    vendor: str | None = None
    randomized: bool = False
    names: dict[str, str] = {}
    device_id: int | None = None
    device_kind: str | None = None
    device_name: str | None = None
    location: PortLocation | None = None
    shared_port: bool = False
    seen_by: list[str] = []
    """``sweep`` (answered ARP/ICMP) and/or ``fdb`` (learned by a switch)."""

    @property
    def known(self) -> bool:
        return self.device_id is not None


class Correlation(msgspec.Struct, frozen=True, kw_only=True):
    hosts: list[Host]
    uplinks: list[Uplink]
    shared: list[SharedPort]


class Move(msgspec.Struct, frozen=True, kw_only=True):
    mac: str
    before: PortLocation
    after: PortLocation


def port_key(name: str) -> str:
    """A port name comparable across spellings: ``GigabitEthernet1/0/1`` and ``Gi1/0/1`` → ``gi1/0/1``.

    MAC tables abbreviate, LLDP/CDP often spell out; the first two letters plus the numbering is
    what both share.
    """
    text = name.strip().replace(" ", "")
    found = re.match(r"^([A-Za-z-]+)(\d.*)$", text)
    if not found:
        return text.lower()
    return found.group(1)[:2].lower() + found.group(2).lower()


def _mac(value: Any) -> str | None:
    """A unicast host MAC in ``aa:bb:cc:dd:ee:ff`` form, else None (all-zero, group, malformed)."""
    if not isinstance(value, str):
        return None
    mac = value.lower()
    if len(mac) != 17 or mac.count(":") != 5:
        digits = re.sub(r"[^0-9a-f]", "", mac)
        if len(digits) != 12:
            return None
        mac = ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    if mac == "00:00:00:00:00:00" or is_multicast(mac):
        return None
    return mac


def known_device(
    device_id: int, kind: str, name: str, facts: Mapping[str, Any] | None, address: str | None = None
) -> KnownDevice:
    """A stored device → its MACs and IPs: an agent's ``hardware.network_interfaces``, a polled
    device's ``interfaces[].mac`` (SNMP) and its configured address."""
    facts = facts or {}
    macs: set[str] = set()
    ips: set[str] = set()
    for interface in (facts.get("hardware") or {}).get("network_interfaces") or []:
        if mac := _mac(interface.get("mac")):
            macs.add(mac)
        ips.update(a.split("/")[0] for a in interface.get("addresses") or [] if ":" not in a)
    for interface in facts.get("interfaces") or []:
        if mac := _mac(interface.get("mac")):
            macs.add(mac)
    if address and re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address):
        ips.add(address)
    ips.discard("127.0.0.1")
    return KnownDevice(device_id=device_id, kind=kind, name=name, macs=sorted(macs), ips=sorted(ips))


def _snmp_table(device_id: int, name: str, facts: Mapping[str, Any]) -> SwitchTable:
    """SNMP facts: FDB bridge port → ifIndex → ifName; LLDP local port = bridge port (802.1AB)."""
    names = {i["if_index"]: i.get("name") or i.get("descr") for i in facts.get("interfaces") or []}
    own = {m for i in facts.get("interfaces") or [] if (m := _mac(i.get("mac")))}
    bridge_port_name: dict[int, str] = {}
    entries: list[FdbEntry] = []
    for row in facts.get("fdb") or []:
        port = names.get(row.get("if_index")) or f"port {row.get('port')}"
        if row.get("port") is not None:
            bridge_port_name[row["port"]] = port
        mac = _mac(row.get("mac"))
        if mac is None or row.get("status") == "invalid":
            continue
        if row.get("status") in ("self", "mgmt"):
            own.add(mac)
        else:
            entries.append(FdbEntry(mac, port, row.get("vlan")))
    neighbours = {
        bridge_port_name.get(n.get("local_port")) or n.get("local_port_name") or f"port {n.get('local_port')}"
        for n in facts.get("lldp") or []
        if n.get("chassis_id") or n.get("sys_name")
    }
    return SwitchTable(device_id=device_id, name=name, entries=entries, own_macs=sorted(own),
                       neighbour_ports=sorted(neighbours))  # fmt: skip


def _cli_table(device_id: int, name: str, facts: Mapping[str, Any]) -> SwitchTable:
    """SSH facts: ``mac_table`` records; entries on the CPU or an SVI are the switch's own MACs."""
    own: set[str] = set()
    entries: list[FdbEntry] = []
    for row in facts.get("mac_table") or []:
        mac, port = _mac(row.get("mac")), row.get("port")
        if mac is None or not port:
            continue
        if INTERNAL_PORT.match(port.strip()):
            own.add(mac)
        else:
            entries.append(FdbEntry(mac, port.strip(), row.get("vlan")))
    neighbours = {n["local_port"] for n in facts.get("neighbors") or [] if n.get("local_port")}
    return SwitchTable(device_id=device_id, name=name, entries=entries, own_macs=sorted(own),
                       neighbour_ports=sorted(neighbours))  # fmt: skip


def switch_table(device_id: int, name: str, facts: Mapping[str, Any] | None) -> SwitchTable | None:
    """A polled device's facts → its forwarding table (SNMP and SSH facts merged), or None if it has none."""
    facts = facts or {}
    parts = [
        part(device_id, name, facts)
        for key, part in (("fdb", _snmp_table), ("mac_table", _cli_table))
        if facts.get(key)
    ]
    if not parts:
        return None
    return SwitchTable(
        device_id=device_id,
        name=name,
        entries=[e for p in parts for e in p.entries],
        own_macs=sorted({m for p in parts for m in p.own_macs}),
        neighbour_ports=sorted({n for p in parts for n in p.neighbour_ports}),
    )


def arp_table(facts: Mapping[str, Any] | None) -> dict[str, str]:
    """A router's ARP records (SSH ``arp`` facts) → ip → MAC: the MAC of hosts a sweep sees only by ICMP."""
    return {
        row["ip"]: mac
        for row in (facts or {}).get("arp") or []
        if row.get("ip") and (mac := _mac(row.get("mac")))
    }


def locate(switches: Sequence[SwitchTable], *, many_macs: int = DEFAULT_MANY_MACS) -> PortMap:
    """Each MAC's access port over all switches, with the uplinks that were excluded and shared ports."""
    switch_macs = {mac for switch in switches for mac in switch.own_macs}
    uplinks: list[Uplink] = []
    shared: list[SharedPort] = []
    best: dict[str, tuple[int, PortLocation]] = {}
    for switch in switches:
        own = set(switch.own_macs)
        ports: dict[str, dict[str, FdbEntry]] = defaultdict(dict)
        for entry in switch.entries:
            if entry.mac not in own:  # a switch learning itself (its CPU port) is no host
                ports[entry.port].setdefault(entry.mac, entry)
        neighbour_keys = {port_key(p) for p in switch.neighbour_ports}
        for port, macs in ports.items():
            reason: UplinkReason | None = None
            if port_key(port) in neighbour_keys:
                reason = "neighbour"
            elif len(macs) >= many_macs:
                reason = "many_macs"
            elif not switch_macs.isdisjoint(macs):
                reason = "switch_behind"
            if reason:
                uplinks.append(Uplink(switch_id=switch.device_id, switch=switch.name, port=port,
                                      reason=reason, macs=len(macs)))  # fmt: skip
                continue
            if len(macs) > 1:
                shared.append(SharedPort(switch_id=switch.device_id, switch=switch.name, port=port,
                                         macs=sorted(macs)))  # fmt: skip
            count = len(macs)
            for mac, entry in macs.items():
                current = best.get(mac)
                if current is None or count < current[0]:
                    location = PortLocation(
                        switch_id=switch.device_id, switch=switch.name, port=port, vlan=entry.vlan
                    )
                    best[mac] = (count, location)
    return PortMap(
        locations={mac: location for mac, (_n, location) in best.items()}, uplinks=uplinks, shared=shared
    )


def correlate(
    sightings: Iterable[Sighting],
    known: Iterable[KnownDevice],
    switches: Sequence[SwitchTable],
    *,
    arp: Mapping[str, str] | None = None,
    many_macs: int = DEFAULT_MANY_MACS,
) -> Correlation:
    """Every MAC seen (sweep or forwarding tables) and every IP seen without a MAC, matched to known
    devices and located on an access port. Hosts come sorted: unknown first, then by MAC/IP."""
    ports = locate(switches, many_macs=many_macs)
    shared_macs = {mac for port in ports.shared for mac in port.macs}
    switch_own = {mac for switch in switches for mac in switch.own_macs}
    by_mac: dict[str, KnownDevice] = {}
    by_ip: dict[str, KnownDevice] = {}
    for device in known:
        by_mac.update(dict.fromkeys(device.macs, device))
        by_ip.update(dict.fromkeys(device.ips, device))
    hosts: dict[str, Host] = {}
    ip_only: dict[str, Host] = {}

    def host_for(mac: str) -> Host:
        if mac not in hosts:
            hosts[mac] = Host(mac=mac, vendor=vendor_of(mac), randomized=is_locally_administered(mac))
        return hosts[mac]

    for sighting in sightings:
        mac = sighting.mac or (arp or {}).get(sighting.ip)
        host = host_for(mac) if mac else ip_only.setdefault(sighting.ip, Host(mac=None))
        if sighting.ip not in host.ips:
            host.ips = [*host.ips, sighting.ip]
        host.names = {**host.names, **sighting.names}
        host.seen_by = sorted({*host.seen_by, "sweep"})
    for mac in ports.locations.keys() - switch_own:
        host = host_for(mac)
        host.seen_by = sorted({*host.seen_by, "fdb"})
    for host in [*hosts.values(), *ip_only.values()]:
        device = (by_mac.get(host.mac) if host.mac else None) or next(
            (by_ip[ip] for ip in host.ips if ip in by_ip), None
        )
        if device is not None:
            host.device_id, host.device_kind, host.device_name = device.device_id, device.kind, device.name
        mac = host.mac or next((m for m in (device.macs if device else []) if m in ports.locations), None)
        host.location = ports.locations.get(mac) if mac else None
        host.shared_port = mac in shared_macs
    ordered = sorted([*hosts.values(), *ip_only.values()], key=lambda h: (h.known, h.mac or "", h.ips[:1]))
    return Correlation(hosts=ordered, uplinks=ports.uplinks, shared=ports.shared)


def moves(before: Mapping[str, PortLocation], after: Mapping[str, PortLocation]) -> list[Move]:
    """MACs whose access port (switch, port or VLAN) changed between two mappings; new and vanished
    MACs are not moves."""
    return [
        Move(mac=mac, before=before[mac], after=location)
        for mac, location in sorted(after.items())
        if mac in before and before[mac] != location
    ]


def _where(location: PortLocation, lang: Lang) -> str:
    vlan = f", VLAN {location.vlan}" if location.vlan is not None else ""
    if lang == "uk":
        return f"комутатор {location.switch}, порт {location.port}{vlan}"
    return f"switch {location.switch} port {location.port}{vlan}"


def describe_move(move: Move, name: str | None = None, lang: Lang = "en") -> str:
    """A change event's text (English or Ukrainian): PC X moved from … to …."""
    who = name or move.mac
    if lang == "uk":
        return f"{who} переміщено: було {_where(move.before, lang)}, стало {_where(move.after, lang)}"
    return f"{who} moved from {_where(move.before, lang)} to {_where(move.after, lang)}"


def describe_unknown(host: Host, lang: Lang = "en") -> str:
    """An alert's text (English or Ukrainian): unknown device 3c:52:… (HP) on switch S port Gi0/7, VLAN 20."""
    what = host.mac or ", ".join(host.ips)
    if host.vendor:
        what += f" ({host.vendor})"
    if lang == "uk":
        where = f" — {_where(host.location, lang)}" if host.location else ""
        return f"невідомий пристрій {what}{where}"
    where = f" on {_where(host.location, lang)}" if host.location else ""
    return f"unknown device {what}{where}"

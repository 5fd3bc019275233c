"""LAN discovery in the store (SQLite and PostgreSQL): unknown devices, port locations and moves
from SNMP and SSH forwarding tables, acceptance with who did it, the LAN listing's filters, the
sweep lease and ``auto_accept: false``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from netaddr import EUI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector.sources.discovery import store
from collector.sources.discovery.correlate import correlate
from collector.sources.discovery.model import Sighting
from collector.sources.snmp.store import apply_poll
from collector.sources.ssh.store import apply_cli_facts
from collector.store.agents import enroll_agent
from collector.store.devices import ensure_device
from collector.store.models import ChangeEvent, Device, LifecycleAction
from collector.store.reports import apply_report
from tests import factories

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
PC_MACHINE = 0x11
PC_MAC = "3c:52:82:00:00:11"  # factories.inventory's interface for machine 0x11 (an HP OUI)
UNKNOWN_MAC = "3c:52:82:00:00:c8"
CAMERA_MAC = "00:1a:a0:00:00:77"
UPLINK_MACS = [f"00:1a:a0:00:01:{n:02x}" for n in range(12)]  # behind the core: many MACs, an LLDP peer


def snmp_switch(pc_port: int) -> dict[str, Any]:
    """A switch's SNMP facts as the poller stores them: the PC on ``pc_port`` (VLAN 10), an unknown
    host on port 7 (VLAN 20), an uplink on port 24 with an LLDP neighbour."""
    interfaces = [
        {"if_index": n, "name": f"Gi0/{n}", "mac": f"70:10:6f:00:00:{n:02x}"} for n in (7, 11, 18, 24)
    ]
    fdb = [
        {"mac": PC_MAC, "port": pc_port, "if_index": pc_port, "vlan": 10, "status": "learned"},
        {"mac": UNKNOWN_MAC, "port": 7, "if_index": 7, "vlan": 20, "status": "learned"},
        *({"mac": m, "port": 24, "if_index": 24, "vlan": 10, "status": "learned"} for m in UPLINK_MACS),
    ]
    lldp = [{"local_port": 24, "chassis_id": "70:10:6f:99:99:99", "sys_name": "core"}]
    return {"system": {"name": "sw-2"}, "interfaces": interfaces, "fdb": fdb, "lldp": lldp}


def add_pc(sessions: sessionmaker[Session], machine: int, firewall_on: bool) -> int:
    with sessions.begin() as session:
        device_id, _ = enroll_agent(session, factories.machine_id(machine), f"PC{machine}", NOW)
        report = factories.report(
            machine, inv=factories.inventory(machine, package_count=3, firewall_on=firewall_on)
        )
        apply_report(session, device_id, report, NOW)
    return device_id


def poll_switch(sessions: sessionmaker[Session], pc_port: int, at: datetime) -> int:
    with sessions.begin() as session:
        return apply_poll(session, "10.0.0.2", "switch", "sw-2", snmp_switch(pc_port), at).device_id


def run(sessions: sessionmaker[Session], sightings: list[Sighting], at: datetime) -> store.Recorded:
    with sessions.begin() as session:
        inputs = store.correlation_inputs(session)
        correlation = correlate(sightings, inputs.known, inputs.switches, arp=inputs.arp)
        return store.record_run(session, correlation, at)


def events(sessions: sessionmaker[Session], device_id: int) -> list[ChangeEvent]:
    with sessions() as session:
        return list(
            session.scalars(
                select(ChangeEvent).where(ChangeEvent.device_id == device_id).order_by(ChangeEvent.id)
            )
        )


def discovery_events(sessions: sessionmaker[Session], device_id: int) -> list[ChangeEvent]:
    return [e for e in events(sessions, device_id) if e.source in ("discovery", "admin")]


def test_unknown_devices_ports_and_moves(sessions: sessionmaker[Session]) -> None:
    pc = add_pc(sessions, PC_MACHINE, firewall_on=False)
    switch = poll_switch(sessions, pc_port=11, at=NOW)
    camera = Sighting(ip="10.20.0.77", mac=CAMERA_MAC, names={"dns": "cam-hall.rada.local"})
    projector = Sighting(ip="10.30.0.5", mac=None, method="icmp")  # behind a router: no MAC
    recorded = run(sessions, [camera, projector, Sighting(ip="10.20.0.17", mac=PC_MAC)], NOW)

    with sessions() as session:
        created = {d.mac: d for d in session.scalars(select(Device).where(Device.kind == "discovered"))}
    assert created[None].ip == "10.30.0.5" and created[None].hostname == "10.30.0.5"
    assert set(created) == {UNKNOWN_MAC, CAMERA_MAC, None}, (
        "the PC, the switch and the uplink's MACs are no unknowns"
    )
    assert sorted(recorded.new_unknown) == sorted(d.id for d in created.values())
    assert created[CAMERA_MAC].hostname == "cam-hall.rada.local" and created[CAMERA_MAC].ip == "10.20.0.77"
    assert all(d.lifecycle == "discovered" for d in created.values())
    hp = EUI(UNKNOWN_MAC).oui.registration().org
    (unknown_event,) = discovery_events(sessions, created[UNKNOWN_MAC].id)
    assert unknown_event.summary == f"unknown device {UNKNOWN_MAC} ({hp}) on switch sw-2 port Gi0/7, VLAN 20"
    assert unknown_event.new_value["summary_uk"] == (
        f"невідомий пристрій {UNKNOWN_MAC} ({hp}) — комутатор sw-2, порт Gi0/7, VLAN 20"
    )
    assert (unknown_event.category, unknown_event.kind) == ("security", "added")

    with sessions() as session:
        unknown = store.unknown_devices(session, NOW - timedelta(minutes=1))
    assert {(u.mac, u.switch, u.port, u.vlan) for u in unknown} == {
        (UNKNOWN_MAC, "sw-2", "Gi0/7", 20),
        (CAMERA_MAC, None, None, None),
        (None, None, None, None),
    }

    # The same picture again: nothing new, only times move on.
    later = NOW + timedelta(minutes=15)
    again = run(sessions, [camera, projector], later)
    assert (again.new_unknown, again.moves, again.changes) == ([], [], [])
    assert len(discovery_events(sessions, created[UNKNOWN_MAC].id)) == 1

    # The PC is moved to another port: one change event on the PC, its port history kept.
    poll_switch(sessions, pc_port=18, at=later)
    moved = run(sessions, [], later + timedelta(minutes=15))
    assert [(m.before.port, m.after.port) for m in moved.moves] == [("Gi0/11", "Gi0/18")]
    (move_event,) = discovery_events(sessions, pc)
    name = f"OBLRADA-PC{PC_MACHINE:04d}"
    assert (
        move_event.summary
        == f"{name} moved from switch sw-2 port Gi0/11, VLAN 10 to switch sw-2 port Gi0/18, VLAN 10"
    )
    assert move_event.new_value["summary_uk"].startswith(
        f"{name} переміщено: було комутатор sw-2, порт Gi0/11"
    )
    with sessions() as session:
        detail = store.get_lan_device(session, pc)
    assert detail is not None
    assert [(p.port, p.current) for p in detail.port_history] == [("Gi0/18", True), ("Gi0/11", False)]
    assert [(p.switch_id, p.port, p.vlan) for p in detail.ports] == [(switch, "Gi0/18", 10)]

    # PCs on VLAN 10 with the firewall off: this one; with it on: none.
    add_pc(sessions, 0x12, firewall_on=True)  # no port known: never on VLAN 10
    with sessions() as session:
        off = store.list_lan_devices(session, store.Filters(vlan=10, firewall="off"))
        on = store.list_lan_devices(session, store.Filters(vlan=10, firewall="on"))
        vlan20 = store.list_lan_devices(session, store.Filters(vlan=20))
        everything = store.list_lan_devices(session)
    assert [(d.id, d.firewall, d.ports[0].port) for d in off] == [(pc, "off", "Gi0/18")]
    assert off[0].security_problems is not None and off[0].security_problems.firewall_off == 3
    assert on == []
    assert [d.mac for d in vlan20] == [UNKNOWN_MAC]
    assert {d.kind for d in everything} == {"pc", "switch", "discovered"} and len(everything) == 6


def test_ssh_mac_table_locates_hosts(sessions: sessionmaker[Session]) -> None:
    """A switch known only over SSH: its CLI ``mac_table`` facts place MACs too (the SVI's is its own)."""
    with sessions.begin() as session:
        switch = ensure_device(session, "10.0.0.9", "switch", "sw-cli", NOW)
        apply_cli_facts(
            session,
            switch,
            {
                "mac_table": [
                    {"mac": UNKNOWN_MAC, "vlan": 30, "port": "Fa0/3"},
                    {"mac": "00:1a:a0:00:09:09", "vlan": 1, "port": "Vlan1"},
                ]
            },
            NOW,
        )
    recorded = run(sessions, [], NOW)
    with sessions() as session:
        (unknown,) = store.unknown_devices(session, NOW)
        assert session.scalar(select(Device.id).where(Device.mac == "00:1a:a0:00:09:09")) is None
    assert recorded.new_unknown == [unknown.device_id]
    assert (unknown.mac, unknown.switch, unknown.port, unknown.vlan) == (UNKNOWN_MAC, "sw-cli", "Fa0/3", 30)


def test_accept_annotate_retire_record_who(sessions: sessionmaker[Session]) -> None:
    switch = poll_switch(sessions, pc_port=11, at=NOW)
    run(sessions, [], NOW)
    with sessions() as session:
        (unknown,) = [u for u in store.unknown_devices(session, NOW) if u.mac == UNKNOWN_MAC]
    device = unknown.device_id
    accept = store.Annotation(
        name="Projector hall",
        location="Session hall",
        responsible_person="O. Koval",
        inventory_number="101-77",
    )
    with sessions.begin() as session:
        assert store.apply_action(session, device, "accept", "o.koval (API, from 10.0.0.5)", NOW, accept)
    with sessions() as session:
        assert [u.mac for u in store.unknown_devices(session, NOW)] == [PC_MAC], "no agent here: unknown"
        detail = store.get_lan_device(session, device)
    assert detail is not None
    assert (
        detail.name,
        detail.lifecycle,
        detail.location,
        detail.responsible_person,
        detail.inventory_number,
    ) == (
        "Projector hall",
        "accepted",
        "Session hall",
        "O. Koval",
        "101-77",
    )
    assert (detail.accepted_by, detail.accepted_at) == ("o.koval (API, from 10.0.0.5)", NOW)
    accepted = discovery_events(sessions, device)[-1]
    assert accepted.summary.startswith(
        "Accepted into operation by o.koval (API, from 10.0.0.5): name Projector hall"
    )
    assert accepted.new_value["summary_uk"].startswith(
        "Прийнято в експлуатацію (o.koval (API, from 10.0.0.5))"
    )
    assert (accepted.old_value["lifecycle"], accepted.new_value["lifecycle"]) == ("discovered", "accepted")

    later = NOW + timedelta(hours=1)
    with sessions.begin() as session:
        store.apply_action(
            session, device, "annotate", "admin (CLI)", later, store.Annotation(note="lamp 2000 h")
        )
        store.apply_action(session, device, "retire", "admin (CLI)", later, store.Annotation(note="broken"))
    with sessions() as session:
        detail = store.get_lan_device(session, device)
    assert detail is not None and detail.lifecycle == "retired" and detail.note == "broken"
    assert [(a.action, a.by) for a in detail.actions] == [
        ("accept", "o.koval (API, from 10.0.0.5)"),
        ("annotate", "admin (CLI)"),
        ("retire", "admin (CLI)"),
    ]
    with pytest.raises(store.LifecycleRefused, match="retired"), sessions.begin() as session:
        store.apply_action(session, device, "annotate", "admin", later, store.Annotation(note="x"))
    with pytest.raises(store.LifecycleRefused, match="config file"), sessions.begin() as session:
        store.apply_action(session, switch, "annotate", "admin", later, store.Annotation(name="renamed"))
    with sessions.begin() as session:  # a configured device's responsible person is the sector's call
        assert store.apply_action(
            session, switch, "annotate", "admin", later, store.Annotation(responsible_person="I. Petrenko")
        )
        assert not store.apply_action(session, 10**9, "accept", "admin", later, store.Annotation())


def test_sweep_lease_has_one_holder(sessions: sessionmaker[Session]) -> None:
    takeover = timedelta(minutes=30)
    with sessions.begin() as session:
        assert store.claim_lease(session, "discovery", "replica-a", NOW, takeover)
    with sessions.begin() as session:
        assert not store.claim_lease(session, "discovery", "replica-b", NOW + timedelta(minutes=5), takeover)
        assert store.claim_lease(session, "discovery", "replica-a", NOW + timedelta(minutes=15), takeover)
    with sessions.begin() as session:  # a stopped holder is taken over; an admin's request takes it at once
        assert store.claim_lease(session, "discovery", "replica-b", NOW + timedelta(minutes=50), takeover)
        assert store.claim_lease(
            session, "discovery", "replica-a", NOW + timedelta(minutes=51), takeover, force=True
        )
        assert not store.claim_lease(session, "discovery", "replica-b", NOW + timedelta(minutes=52), takeover)


def test_without_auto_accept_new_registrations_wait(sessions: sessionmaker[Session]) -> None:
    accepted = add_pc(sessions, 1, firewall_on=True)
    with sessions.begin() as session:
        store.apply_action(session, accepted, "accept", "admin", NOW, store.Annotation())
    waiting = add_pc(sessions, 2, firewall_on=True)
    switch = poll_switch(sessions, pc_port=11, at=NOW)
    with sessions.begin() as session:
        assert store.hold_unaccepted_registrations(session) == 2
    with sessions.begin() as session:
        assert store.hold_unaccepted_registrations(session) == 0
        lifecycles = {row.id: row.lifecycle for row in session.execute(select(Device.id, Device.lifecycle))}
        actions = session.scalars(select(LifecycleAction.device_id)).all()
    assert (lifecycles[accepted], lifecycles[waiting], lifecycles[switch]) == (
        "accepted",
        "discovered",
        "discovered",
    )
    assert actions == [accepted]

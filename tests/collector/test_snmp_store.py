"""SNMP polls into the store: real recordings polled through snmpsim, applied with ``apply_poll`` on
SQLite and PostgreSQL; only real changes become events, failed sections are unknown, not removed."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from collector.sources.snmp.poll import Target, poll_device
from collector.sources.snmp.profiles import Profile
from collector.sources.snmp.session import Credentials
from collector.sources.snmp.store import apply_poll, guess_kind
from collector.store.models import ChangeEvent, Device
from tests.collector.snmp.conftest import Simulator, profiles, snmpsim  # noqa: F401  (fixtures)

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
RECORDINGS = ("sharp", "XMG1915-10EP", "routeros")


@pytest.fixture(scope="module")
def facts(snmpsim: Simulator, profiles: list[Profile]) -> dict[str, dict[str, Any]]:  # noqa: F811
    """Facts of a few real recordings, polled once over v2c."""

    async def poll_all() -> list[Any]:
        target = Target(host="127.0.0.1", port=snmpsim.port, timeout=2.0)
        return await asyncio.gather(
            *(poll_device(target, Credentials(community=name), profiles, 20.0) for name in RECORDINGS)
        )

    polls = dict(zip(RECORDINGS, asyncio.run(poll_all()), strict=True))
    for name, poll in polls.items():
        assert not poll.errors, (name, poll.errors)
    return {name: poll.facts for name, poll in polls.items()}


def apply(sessions: sessionmaker[Session], facts: dict[str, Any], minutes: int = 0, **kw: Any) -> Any:
    arguments = {"address": "10.0.0.5", "kind": None, "name": None, **kw}
    with sessions.begin() as session:
        return apply_poll(
            session, facts=facts, polled_at=T0 + timedelta(minutes=minutes), **arguments
        )


def events(sessions: sessionmaker[Session]) -> list[ChangeEvent]:
    with sessions() as session:
        return list(session.scalars(select(ChangeEvent).order_by(ChangeEvent.id)))


def by_subject(outcome: Any) -> dict[str, Any]:
    return {change.subject: change for change in outcome.changes}


@pytest.mark.parametrize(("recording", "kind"), [("sharp", "printer"), ("XMG1915-10EP", "switch")])
def test_first_poll_creates_the_device_and_the_same_poll_again_changes_nothing(
    sessions: sessionmaker[Session], facts: dict[str, dict[str, Any]], recording: str, kind: str
) -> None:
    polled = facts[recording]
    first = apply(
        sessions, copy.deepcopy(polled), name="office device", location="2nd floor", group="HQ"
    )
    assert first.created
    assert [(c.category, c.kind, c.subject) for c in first.changes] == [("system", "added", "inventory")]
    with sessions() as session:
        device = session.get_one(Device, first.device_id)
        assert device.kind == kind == guess_kind(polled)
        assert device.hostname == (polled["system"]["name"] or "office device")
        assert device.address == "10.0.0.5" and device.machine_id is None
        assert device.display_name == "office device"
        assert (device.location, device.site_group) == ("2nd floor", "HQ")
        assert device.facts == polled and device.facts_hash and device.facts_at == T0
    stored = [(e.source, e.kind, e.summary) for e in events(sessions)]
    assert stored == [("snmp", "added", "Inventory first received")]

    again = apply(sessions, copy.deepcopy(polled), minutes=5, name="office device")
    assert not again.created and again.device_id == first.device_id and again.changes == []
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Device)) == 1
        assert session.get_one(Device, first.device_id).last_seen_at == T0 + timedelta(minutes=5)
    assert len(events(sessions)) == 1


def test_volatile_values_are_not_events(
    sessions: sessionmaker[Session], facts: dict[str, dict[str, Any]]
) -> None:
    base = facts["XMG1915-10EP"]
    apply(sessions, copy.deepcopy(base))
    busy = copy.deepcopy(base)
    busy["system"]["uptime_ticks"] = 123456
    for interface in busy["interfaces"]:
        interface.update(oper_status="down", in_octets=(interface["in_octets"] or 0) + 10**6, speed_bps=10**8)
    busy["fdb"] = busy["fdb"][::-1][:-3]
    outcome = apply(sessions, busy, minutes=5)
    assert outcome.changes == []
    with sessions() as session:
        assert session.get_one(Device, outcome.device_id).facts["fdb"] == busy["fdb"]


def test_switch_firmware_serial_and_new_interface(
    sessions: sessionmaker[Session], facts: dict[str, dict[str, Any]]
) -> None:
    base = copy.deepcopy(facts["routeros"])
    base["entity"].update(serial="A1B2", firmware="6.40.5")  # the recording leaves them empty
    apply(sessions, copy.deepcopy(base), kind="switch")
    changed = copy.deepcopy(base)
    changed["entity"].update(serial="C3D4", firmware="6.49.10")
    new_port = {**changed["interfaces"][-1], "if_index": 99, "name": "ether99", "descr": "ether99"}
    changed["interfaces"].append(new_port)

    outcome = apply(sessions, changed, minutes=5, kind="switch")
    changes = by_subject(outcome)
    assert set(changes) == {"entity.serial", "entity.firmware", "interfaces[ether99]"}
    serial, firmware = changes["entity.serial"], changes["entity.firmware"]
    port = changes["interfaces[ether99]"]
    assert (serial.kind, serial.old, serial.new) == ("changed", "A1B2", "C3D4")
    assert serial.summary == "Serial number changed: A1B2 → C3D4"
    assert (firmware.kind, firmware.old, firmware.new) == ("changed", "6.40.5", "6.49.10")
    assert firmware.summary == "Firmware changed: 6.40.5 → 6.49.10"
    assert (port.kind, port.old, port.new, port.category) == ("added", None, new_port, "hardware")
    assert port.summary.startswith("Interface ether99 added")
    stored = [(e.source, e.subject, e.old_value, e.new_value) for e in events(sessions)[1:]]
    assert sorted(stored, key=str) == sorted(
        [
            ("snmp", "entity.serial", "A1B2", "C3D4"),
            ("snmp", "entity.firmware", "6.40.5", "6.49.10"),
            ("snmp", "interfaces[ether99]", None, new_port),
        ],
        key=str,
    )
    with sessions() as session:
        assert session.scalars(select(Device.kind)).all() == ["switch"]


def test_printer_serial_supply_removed_and_replaced(
    sessions: sessionmaker[Session], facts: dict[str, dict[str, Any]]
) -> None:
    base = copy.deepcopy(facts["sharp"])
    low = next(s for s in base["supplies"] if s["percent"] is not None and s["percent"] < 50)
    apply(sessions, copy.deepcopy(base))
    changed = copy.deepcopy(base)
    changed["printer"]["serial"] = "NEW-SERIAL"
    removed = changed["supplies"].pop(
        next(i for i, s in enumerate(changed["supplies"]) if s["description"] != low["description"])
    )
    refilled = next(s for s in changed["supplies"] if s["description"] == low["description"])
    refilled.update(level=100, max=100, percent=100.0)

    outcome = apply(sessions, changed, minutes=5)
    changes = by_subject(outcome)
    assert set(changes) == {
        "printer.serial",
        f"supplies[{removed['description']}]",
        f"supplies[{low['description']}]",
    }
    serial = changes["printer.serial"]
    assert (serial.old, serial.new) == (base["printer"]["serial"], "NEW-SERIAL")
    gone = changes[f"supplies[{removed['description']}]"]
    assert (gone.kind, gone.old, gone.new) == ("removed", removed, None)
    replaced = changes[f"supplies[{low['description']}]"]
    assert replaced.kind == "changed"
    assert (replaced.old["percent"], replaced.new["percent"]) == (low["percent"], 100.0)
    assert replaced.summary == f"Supply {low['description']} replaced: {low['percent']:g}% → 100%"
    assert len(events(sessions)) == 4


def test_failed_sections_are_unknown_not_removed(
    sessions: sessionmaker[Session], facts: dict[str, dict[str, Any]]
) -> None:
    base = facts["sharp"]
    first = apply(sessions, copy.deepcopy(base))
    partial = {k: v for k, v in copy.deepcopy(base).items() if k not in ("supplies", "interfaces")}
    assert apply(sessions, partial, minutes=5).changes == []
    assert apply(sessions, {**copy.deepcopy(base), "supplies": []}, minutes=10).changes == []
    with sessions() as session:
        device = session.get_one(Device, first.device_id)
        assert device.facts["supplies"] == base["supplies"]
        assert device.facts["interfaces"] == base["interfaces"]
        assert device.kind == "printer"
    assert len(events(sessions)) == 1


def test_configured_kind_wins_over_the_guess(
    sessions: sessionmaker[Session], facts: dict[str, dict[str, Any]]
) -> None:
    outcome = apply(sessions, copy.deepcopy(facts["sharp"]), kind="other")
    with sessions() as session:
        assert session.get_one(Device, outcome.device_id).kind == "other"
    assert guess_kind({"system": {}}) == "other"
    assert guess_kind({"ups": {"charge_percent": 100}}) == "ups"

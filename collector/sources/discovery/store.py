"""LAN discovery in the store: what the correlation needs (known devices, forwarding tables), the
record of a run (discovered devices, port locations and their moves, unknown-device events), the
administrators' lifecycle actions (accept, annotate, retire) and the LAN listing that puts a
device's switch port next to its lifecycle and security posture. Functions take a session and do
not commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.inventory import Change
from collector.sources.discovery.correlate import (
    Correlation,
    Host,
    KnownDevice,
    Move,
    SwitchTable,
    arp_table,
    describe_move,
    describe_unknown,
    known_device,
    moves,
    switch_table,
)
from collector.sources.discovery.correlate import PortLocation as Location
from collector.store.models import Device, Lease, LifecycleAction, PortLocation
from collector.store.queries import AGENT_KIND, SecurityProblems, security_problems
from collector.store.reports import record_changes

DISCOVERED_KIND = "discovered"
LIFECYCLES = ("discovered", "accepted", "retired")
Action = Literal["accept", "annotate", "retire"]
CLI_SECTIONS = ("mac_table", "neighbors", "arp")
"""SSH facts (kept under ``cli``) that the correlation reads next to the SNMP ones."""


# ---- leases ---------------------------------------------------------------------------------------


def claim_lease(
    session: Session, name: str, holder: str, now: datetime, takeover_after: timedelta, *, force: bool = False
) -> bool:
    """Whether ``holder`` (a collector replica) runs the job ``name`` now. Does not commit.

    The lease sticks to its holder; another replica takes it over when it is older than
    ``takeover_after`` (its holder stopped), or at once with ``force`` (an administrator asked this
    replica to run the job). One conditional UPDATE, or an INSERT the first time: the database
    picks the winner.
    """
    condition = [Lease.name == name]
    if not force:
        condition.append(or_(Lease.holder == holder, Lease.claimed_at < now - takeover_after))
    claimed = session.execute(
        update(Lease)
        .where(*condition)
        .values(holder=holder, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount == 1:
        return True
    if session.get(Lease, name) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Lease(name=name, holder=holder, claimed_at=now))
    except IntegrityError:
        return False
    return True


# ---- what the correlation needs ------------------------------------------------------------------


class Inputs(msgspec.Struct, frozen=True, kw_only=True):
    """The store's side of a correlation."""

    known: list[KnownDevice]
    switches: list[SwitchTable]
    arp: dict[str, str]


def device_name(device: Device) -> str:
    return device.display_name or device.hostname


def correlation_inputs(session: Session) -> Inputs:
    """Every device with its MACs and IPs (agents' interfaces, polled devices' interfaces and
    address, discovered devices' MAC), and the polled devices' forwarding tables (SNMP ``fdb``,
    SSH ``cli.mac_table``) with their neighbours and ARP records."""
    known: list[KnownDevice] = []
    switches: list[SwitchTable] = []
    arp: dict[str, str] = {}
    # Discovered devices first: a MAC that an agent or a polled device reports later is theirs.
    discovered = session.execute(
        select(Device.id, Device.hostname, Device.display_name, Device.mac, Device.ip).where(
            Device.kind == DISCOVERED_KIND
        )
    )
    for device_id, hostname, display_name, mac, ip in discovered:
        known.append(
            KnownDevice(
                device_id=device_id,
                kind=DISCOVERED_KIND,
                name=display_name or hostname,
                macs=[mac] if mac else [],
                ips=[ip] if ip and not mac else [],  # a MAC-less host is known by its address alone
            )
        )
    pcs = session.execute(
        select(
            Device.id, Device.hostname, Device.display_name, Device.facts[("hardware", "network_interfaces")]
        ).where(Device.kind == AGENT_KIND)
    )
    for device_id, hostname, display_name, interfaces in pcs:
        facts = {"hardware": {"network_interfaces": interfaces or []}}
        known.append(known_device(device_id, AGENT_KIND, display_name or hostname, facts))
    for device in session.scalars(select(Device).where(Device.address.is_not(None))):
        facts = dict(device.facts or {})
        cli = facts.get("cli") or {}
        facts.update({key: cli[key] for key in CLI_SECTIONS if cli.get(key)})
        name = device_name(device)
        known.append(known_device(device.id, device.kind, name, facts, device.address))
        table = switch_table(device.id, name, facts)
        if table is not None:
            switches.append(table)
        arp.update(arp_table(facts))
    return Inputs(known=known, switches=switches, arp=arp)


# ---- recording a run ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one run changed in the store."""

    new_unknown: list[int] = field(default_factory=list)
    """Devices created for MACs (or MAC-less addresses) never seen before."""
    moves: list[Move] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


def _discovery_facts(host: Host) -> dict[str, Any]:
    return {
        "ips": host.ips,
        "vendor": host.vendor,
        "randomized": host.randomized,
        "names": host.names,
        "seen_by": host.seen_by,
    }


def _location_value(location: Location) -> dict[str, Any]:
    return {
        "switch_id": location.switch_id,
        "switch": location.switch,
        "port": location.port,
        "vlan": location.vlan,
    }


def _unknown_change(host: Host) -> Change:
    what = host.mac or ", ".join(host.ips)
    return Change(
        "security",
        "added",
        f"lan[{what}]",
        None,
        {
            **_discovery_facts(host),
            "mac": host.mac,
            "location": _location_value(host.location) if host.location else None,
            "summary_uk": describe_unknown(host, "uk"),
        },
        describe_unknown(host, "en"),
    )


def _move_change(move: Move, name: str) -> Change:
    return Change(
        "hardware",
        "changed",
        f"lan.port[{move.mac}]",
        _location_value(move.before),
        {**_location_value(move.after), "summary_uk": describe_move(move, name, "uk")},
        describe_move(move, name, "en"),
    )


def _new_device(session: Session, host: Host, at: datetime) -> Device:
    names = host.names
    hostname = names.get("dns") or names.get("netbios") or names.get("mdns") or host.mac or host.ips[0]
    device = Device(
        kind=DISCOVERED_KIND,
        lifecycle="discovered",
        hostname=hostname[:256],
        mac=host.mac,
        ip=host.ips[0] if host.ips else None,
        first_seen_at=at,
        last_seen_at=at,
        facts={"discovery": _discovery_facts(host)},
    )
    session.add(device)
    session.flush()
    return device


def record_run(session: Session, correlation: Correlation, at: datetime) -> Recorded:
    """Store one correlation: a device row for every host no device claims (with an "unknown
    device" change event), the discovered devices' addresses and names, and each located MAC's
    port (a different port than its current one is a move, with a change event on its device)."""
    recorded = Recorded()
    owners: dict[str, int] = {}
    discovered = {
        device.id: device
        for device in session.scalars(
            select(Device).where(
                Device.id.in_({h.device_id for h in correlation.hosts if h.device_kind == DISCOVERED_KIND})
            )
        )
    }
    for host in correlation.hosts:
        if host.device_id is None:
            device = _new_device(session, host, at)
            host.device_id, host.device_kind, host.device_name = device.id, device.kind, device.hostname
            change = _unknown_change(host)
            record_changes(session, device.id, "discovery", at, [change])
            recorded.new_unknown.append(device.id)
            recorded.changes.append(change)
        elif (device := discovered.get(host.device_id)) is not None:
            device.last_seen_at = max(device.last_seen_at, at)
            if host.ips and "sweep" in host.seen_by:
                device.ip = host.ips[0]
            facts = {"discovery": {**(device.facts or {}).get("discovery", {}), **_discovery_facts(host)}}
            if facts != device.facts:
                device.facts = facts
        if host.mac and host.location is not None:
            owners[host.mac] = host.device_id
    located = {h.mac: h.location for h in correlation.hosts if h.mac and h.location is not None}
    current = {
        row.mac: row
        for row in session.scalars(
            select(PortLocation).where(PortLocation.is_current.is_(True), PortLocation.mac.in_(located))
        )
    }
    switch_names = _switch_names(session, {row.switch_id for row in current.values()})
    before = {  # named as now when on the same switch: a renamed switch is no move
        mac: Location(
            switch_id=row.switch_id,
            switch=located[mac].switch
            if row.switch_id == located[mac].switch_id
            else switch_names[row.switch_id],
            port=row.port,
            vlan=row.vlan,
        )
        for mac, row in current.items()
    }
    names = {h.mac: h.device_name or h.mac for h in correlation.hosts if h.mac}
    for move in moves(before, located):
        change = _move_change(move, names[move.mac] or move.mac)
        record_changes(session, owners[move.mac], "discovery", at, [change])
        recorded.moves.append(move)
        recorded.changes.append(change)
        current[move.mac].is_current = False
        del current[move.mac]
    for mac, location in located.items():
        row = current.get(mac)
        if row is None:
            session.add(
                PortLocation(
                    mac=mac,
                    device_id=owners[mac],
                    switch_id=location.switch_id,
                    port=location.port,
                    vlan=location.vlan,
                    first_seen_at=at,
                    last_seen_at=at,
                    is_current=True,
                )
            )
        else:
            row.last_seen_at = max(row.last_seen_at, at)
            row.device_id = owners[mac]
    session.flush()
    return recorded


def hold_unaccepted_registrations(session: Session) -> int:
    """``discovery.auto_accept: false``: PCs and polled devices nobody has accepted (no lifecycle
    action recorded) stay ``discovered``. Returns how many were put back. Does not commit."""
    acted = exists().where(LifecycleAction.device_id == Device.id)
    held = session.execute(
        update(Device)
        .where(Device.kind != DISCOVERED_KIND, Device.lifecycle == "accepted", ~acted)
        .values(lifecycle="discovered")
        .execution_options(synchronize_session=False)
    )
    return held.rowcount


# ---- reading ---------------------------------------------------------------------------------------


class PortView(msgspec.Struct, kw_only=True):
    mac: str
    switch_id: int
    switch: str
    port: str
    vlan: int | None
    first_seen_at: datetime
    last_seen_at: datetime
    current: bool


class ActionView(msgspec.Struct, kw_only=True):
    action: str
    at: datetime
    by: str
    note: str | None
    values: dict[str, Any] | None


class LanDevice(msgspec.Struct, kw_only=True):
    """A device on the LAN with its lifecycle, where it is plugged in and (for a PC) its posture."""

    id: int
    kind: str
    """``pc`` (agent), ``switch``/``printer``/``ups``/``other`` (polled), ``discovered``."""
    name: str
    hostname: str
    lifecycle: str
    """``discovered`` → ``accepted`` (in operation) → ``retired``."""
    mac: str | None
    """A discovered device's MAC (a PC's are in its hardware facts)."""
    ip: str | None
    """A discovered device's last address, a polled device's configured address."""
    vendor: str | None
    location: str | None
    responsible_person: str | None
    inventory_number: str | None
    note: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    ports: list[PortView]
    """Where its MACs are plugged in now (access ports of polled switches)."""
    firewall: Literal["on", "off"] | None
    """A PC's firewall: ``off`` when any profile is off; None without an agent's report."""
    security_problems: SecurityProblems | None
    accepted_by: str | None
    accepted_at: datetime | None


class LanDeviceDetail(LanDevice, kw_only=True):
    port_history: list[PortView]
    actions: list[ActionView]


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    kind: str | None = None
    lifecycle: str | None = None
    vlan: int | None = None
    switch_id: int | None = None
    firewall: Literal["on", "off"] | None = None


def _firewall(security: dict[str, Any] | None) -> Literal["on", "off"] | None:
    profiles = (security or {}).get("firewall") or []
    if not profiles:
        return None
    return "off" if any(not profile.get("enabled") for profile in profiles) else "on"


def _port_view(row: PortLocation, switch: str) -> PortView:
    return PortView(
        mac=row.mac,
        switch_id=row.switch_id,
        switch=switch,
        port=row.port,
        vlan=row.vlan,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        current=row.is_current,
    )


def _switch_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    rows = session.execute(
        select(Device.id, Device.display_name, Device.hostname).where(Device.id.in_(set(ids)))
    )
    return {device_id: display_name or hostname for device_id, display_name, hostname in rows}


def _last_accept(session: Session, ids: Sequence[int]) -> dict[int, tuple[str, datetime]]:
    rows = session.execute(
        select(LifecycleAction.device_id, LifecycleAction.by, LifecycleAction.at)
        .where(LifecycleAction.action == "accept", LifecycleAction.device_id.in_(ids))
        .order_by(LifecycleAction.at, LifecycleAction.id)
    )
    return {device_id: (by, at) for device_id, by, at in rows}


def _views(
    session: Session, devices: Sequence[Device], ports: dict[int, list[PortLocation]]
) -> list[LanDevice]:
    switches = _switch_names(session, {row.switch_id for rows in ports.values() for row in rows})
    accepted = _last_accept(session, [device.id for device in devices])
    views = []
    for device in devices:
        facts = device.facts or {}
        security = facts.get("security") if device.kind == AGENT_KIND else None
        by, at = accepted.get(device.id, (None, None))
        views.append(
            LanDevice(
                id=device.id,
                kind=device.kind,
                name=device_name(device),
                hostname=device.hostname,
                lifecycle=device.lifecycle,
                mac=device.mac,
                ip=device.ip or device.address,
                vendor=(facts.get("discovery") or {}).get("vendor"),
                location=device.location,
                responsible_person=device.responsible_person,
                inventory_number=device.inventory_number,
                note=device.note,
                first_seen_at=device.first_seen_at,
                last_seen_at=device.last_seen_at,
                ports=[_port_view(row, switches.get(row.switch_id, "?")) for row in ports.get(device.id, [])],
                firewall=_firewall(security),
                security_problems=security_problems(security) if security else None,
                accepted_by=by,
                accepted_at=at,
            )
        )
    return views


def list_lan_devices(session: Session, filters: Filters | None = None) -> list[LanDevice]:
    """Every device (PCs, polled devices, discovered ones) with its current ports, by name;
    ``filters`` narrow it (e.g. PCs on VLAN 10 with the firewall off)."""
    filters = filters or Filters()
    query = select(Device).order_by(Device.hostname, Device.id)
    if filters.kind:
        query = query.where(Device.kind == filters.kind)
    if filters.lifecycle:
        query = query.where(Device.lifecycle == filters.lifecycle)
    if filters.vlan is not None or filters.switch_id is not None:
        where = [PortLocation.device_id == Device.id, PortLocation.is_current.is_(True)]
        if filters.vlan is not None:
            where.append(PortLocation.vlan == filters.vlan)
        if filters.switch_id is not None:
            where.append(PortLocation.switch_id == filters.switch_id)
        query = query.where(exists().where(*where))
    if filters.firewall:
        query = query.where(Device.kind == AGENT_KIND)
    devices = list(session.scalars(query))
    ports: dict[int, list[PortLocation]] = {}
    for row in session.scalars(
        select(PortLocation)
        .where(PortLocation.is_current.is_(True), PortLocation.device_id.in_([d.id for d in devices]))
        .order_by(PortLocation.last_seen_at.desc(), PortLocation.id)
    ):
        ports.setdefault(row.device_id or 0, []).append(row)
    views = _views(session, devices, ports)
    if filters.firewall:
        views = [view for view in views if view.firewall == filters.firewall]
    return views


def get_lan_device(session: Session, device_id: int) -> LanDeviceDetail | None:
    """One device with every port it was seen on and every lifecycle action taken on it."""
    device = session.get(Device, device_id)
    if device is None:
        return None
    history = list(
        session.scalars(
            select(PortLocation)
            .where(PortLocation.device_id == device_id)
            .order_by(PortLocation.last_seen_at.desc(), PortLocation.id.desc())
        )
    )
    (view,) = _views(session, [device], {device_id: [row for row in history if row.is_current]})
    switches = _switch_names(session, {row.switch_id for row in history})
    actions = session.scalars(
        select(LifecycleAction)
        .where(LifecycleAction.device_id == device_id)
        .order_by(LifecycleAction.at, LifecycleAction.id)
    )
    return LanDeviceDetail(
        **msgspec.structs.asdict(view),
        port_history=[_port_view(row, switches.get(row.switch_id, "?")) for row in history],
        actions=[
            ActionView(action=a.action, at=a.at, by=a.by, note=a.note, values=a.values) for a in actions
        ],
    )


class UnknownDevice(msgspec.Struct, frozen=True, kw_only=True):
    """A device on the LAN nobody accepted, as the metrics and the alert name it."""

    device_id: int
    mac: str | None
    ip: str | None
    vendor: str | None
    switch: str | None
    port: str | None
    vlan: int | None
    last_seen_at: datetime


def unknown_devices(session: Session, seen_since: datetime) -> list[UnknownDevice]:
    """Discovered devices not accepted (nor retired) and seen since ``seen_since``, newest first."""
    devices = list(
        session.scalars(
            select(Device)
            .where(
                Device.kind == DISCOVERED_KIND,
                Device.lifecycle == "discovered",
                Device.last_seen_at >= seen_since,
            )
            .order_by(Device.last_seen_at.desc(), Device.id.desc())
        )
    )
    ports = {
        row.device_id: row
        for row in session.scalars(
            select(PortLocation)
            .where(PortLocation.is_current.is_(True), PortLocation.device_id.in_([d.id for d in devices]))
            .order_by(PortLocation.last_seen_at)
        )
    }
    switches = _switch_names(session, {row.switch_id for row in ports.values()})
    found = []
    for device in devices:
        port = ports.get(device.id)
        found.append(
            UnknownDevice(
                device_id=device.id,
                mac=device.mac,
                ip=device.ip,
                vendor=((device.facts or {}).get("discovery") or {}).get("vendor"),
                switch=switches.get(port.switch_id) if port else None,
                port=port.port if port else None,
                vlan=port.vlan if port else None,
                last_seen_at=device.last_seen_at,
            )
        )
    return found


# ---- administrators' actions ---------------------------------------------------------------------


class Annotation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What an administrator sets on a device; a field left out (None) stays as it is."""

    name: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    location: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    responsible_person: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    inventory_number: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    note: Annotated[str, msgspec.Meta(max_length=4096)] | None = None


class LifecycleRefused(Exception):
    """The action does not fit the device (a configured device's name, a retired device annotated)."""


ANNOTATED_COLUMNS = {
    "name": "display_name",
    "location": "location",
    "responsible_person": "responsible_person",
    "inventory_number": "inventory_number",
}
NEXT_STATE = {"accept": "accepted", "retire": "retired"}
SUMMARIES = {
    "accept": ("Accepted into operation by {by}", "Прийнято в експлуатацію ({by})"),
    "annotate": ("Details updated by {by}", "Відомості оновлено ({by})"),
    "retire": ("Retired from operation by {by}", "Виведено з експлуатації ({by})"),
}
FIELD_NAMES_UK = {
    "name": "назва",
    "location": "розташування",
    "responsible_person": "відповідальна особа",
    "inventory_number": "інвентарний номер",
}


def _described(template: str, by: str, values: dict[str, Any], labels: dict[str, str] | None) -> str:
    text = template.format(by=by)
    details = [f"{(labels or {}).get(k, k.replace('_', ' '))} {v}" for k, v in values.items() if v]
    return text + (": " + ", ".join(details) if details else "")


def apply_action(
    session: Session, device_id: int, action: Action, by: str, at: datetime, annotation: Annotation
) -> bool:
    """Accept, annotate or retire the device: set the given fields, move its lifecycle, record the
    action (who, when, what) and a change event. False if there is no such device. Does not commit.

    A configured (SNMP/SSH) device's name and location come from the config file, which the next
    poll would write back: setting them here is refused."""
    device = session.scalars(select(Device).where(Device.id == device_id).with_for_update()).one_or_none()
    if device is None:
        return False
    values = {
        key: getattr(annotation, key).strip()
        for key in ANNOTATED_COLUMNS
        if getattr(annotation, key) is not None
    }
    if device.address is not None and {"name", "location"} & values.keys():
        raise LifecycleRefused(
            f"device {device_id} is configured in the snmp/ssh section: "
            "its name and location come from the config file"
        )
    if action == "annotate" and device.lifecycle == "retired":
        raise LifecycleRefused(f"device {device_id} is retired; accept it again before annotating it")
    old = {key: getattr(device, column) for key, column in ANNOTATED_COLUMNS.items() if key in values}
    for key, value in values.items():
        setattr(device, ANNOTATED_COLUMNS[key], value or None)
    note = annotation.note.strip() if annotation.note is not None else None
    if note is not None:
        device.note = note or None
    old_state = device.lifecycle
    device.lifecycle = NEXT_STATE.get(action, device.lifecycle)
    session.add(
        LifecycleAction(device_id=device_id, action=action, at=at, by=by, note=note, values=values or None)
    )
    english, ukrainian = SUMMARIES[action]
    record_changes(
        session,
        device_id,
        "admin",
        at,
        [
            Change(
                "system",
                "changed",
                "lifecycle" if action != "annotate" else "lifecycle.details",
                {"lifecycle": old_state, **old},
                {
                    "lifecycle": device.lifecycle,
                    **values,
                    "by": by,
                    "note": note,
                    "summary_uk": _described(ukrainian, by, values, FIELD_NAMES_UK),
                },
                _described(english, by, values, None),
            )
        ],
    )
    session.flush()
    return True

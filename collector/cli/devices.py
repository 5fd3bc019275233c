"""``dozor-collector devices …``: the LAN's devices and their acceptance into operation.

Thin: it reads and writes the same store as the running collector, through the same store
functions as the API (``collector.sources.discovery.store``). Who acted is recorded as ``--by`` (default:
the login running the command) with "(command line)".
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

import msgspec
from sqlalchemy.orm import Session, sessionmaker

from collector.cli.options import add_command_group, store_sessions
from collector.config import CollectorConfig
from collector.sources.discovery import store

ANNOTATION_OPTIONS = {
    "name": "the device's name",
    "location": "where it stands (building, room)",
    "responsible_person": "who answers for it",
    "inventory_number": "its inventory number",
    "note": "a free note",
}


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    devices = add_command_group(
        commands, "devices", "devices on the LAN: list, accept, annotate, retire", run
    )
    actions = devices.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every device with lifecycle, switch port and firewall")
    listing.add_argument("--kind", help="pc, switch, printer, ups, other, discovered")
    listing.add_argument("--lifecycle", choices=store.LIFECYCLES)
    listing.add_argument("--vlan", type=int, help="on an access port of this VLAN now")
    listing.add_argument("--switch", type=int, dest="switch_id", help="plugged into this switch (id) now")
    listing.add_argument("--firewall", choices=("on", "off"), help="PCs whose firewall is on/off")
    listing.add_argument("--json", action="store_true", help="the API's JSON instead of a table")
    show = actions.add_parser("show", help="one device: ports over time and lifecycle actions")
    show.add_argument("device", type=int, help="device id")
    for action, text in (
        ("accept", "accept the device into operation"),
        ("annotate", "set the device's details"),
        ("retire", "retire the device from operation"),
    ):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("device", type=int, help="device id (see: devices list)")
        for option, what in ANNOTATION_OPTIONS.items():
            parser.add_argument(f"--{option.replace('_', '-')}", dest=option, help=what)
        parser.add_argument("--by", default=getpass.getuser(), help="who does it (default: your login)")


def run(config: CollectorConfig, args: argparse.Namespace) -> int:
    try:
        with store_sessions(config) as sessions:
            return _act(sessions, args)
    except store.LifecycleRefused as exc:
        print(f"dozor-collector: {exc}", file=sys.stderr)
        return 1


def _act(sessions: sessionmaker[Session], args: argparse.Namespace) -> int:
    if args.action == "list":
        filters = store.Filters(
            kind=args.kind,
            lifecycle=args.lifecycle,
            vlan=args.vlan,
            switch_id=args.switch_id,
            firewall=args.firewall,
        )
        with sessions() as session:
            devices = store.list_lan_devices(session, filters)
        print(msgspec.json.encode(devices).decode() if args.json else _table(devices))
        return 0
    if args.action == "show":
        with sessions() as session:
            detail = store.get_lan_device(session, args.device)
    else:
        try:
            annotation = msgspec.convert(
                {key: getattr(args, key) for key in ANNOTATION_OPTIONS}, store.Annotation
            )
        except msgspec.ValidationError as exc:
            print(f"dozor-collector: {exc}", file=sys.stderr)
            return 2
        with sessions.begin() as session:
            found = store.apply_action(
                session,
                args.device,
                args.action,
                f"{args.by} (command line)",
                datetime.now(UTC),
                annotation,
            )
            detail = store.get_lan_device(session, args.device) if found else None
    if detail is None:
        print(f"dozor-collector: no device with id {args.device}", file=sys.stderr)
        return 1
    print(_details(detail))
    return 0


def _port(device: store.LanDevice) -> str:
    if not device.ports:
        return "-"
    port = device.ports[0]
    vlan = f" vlan {port.vlan}" if port.vlan is not None else ""
    return f"{port.switch} {port.port}{vlan}" + (
        f" (+{len(device.ports) - 1})" if len(device.ports) > 1 else ""
    )


def _table(devices: list[store.LanDevice]) -> str:
    header = f"{'id':>5}  {'kind':<10} {'lifecycle':<10} {'name':<28} {'mac / ip':<24} {'port':<30} firewall"
    lines = [header]
    for d in devices:
        address = d.mac or d.ip or "-"
        lines.append(
            f"{d.id:>5}  {d.kind:<10} {d.lifecycle:<10} {d.name[:28]:<28} {address[:24]:<24} "
            f"{_port(d)[:30]:<30} {d.firewall or '-'}"
        )
    return "\n".join(lines)


def _details(device: store.LanDeviceDetail) -> str:
    lines = [
        f"{device.id}: {device.name} ({device.kind}, {device.lifecycle})",
        *(
            f"  {label}: {value}"
            for label, value in (
                ("hostname", device.hostname),
                ("mac", device.mac),
                ("ip", device.ip),
                ("vendor", device.vendor),
                ("location", device.location),
                ("responsible person", device.responsible_person),
                ("inventory number", device.inventory_number),
                ("note", device.note),
                ("firewall", device.firewall),
                (
                    "accepted",
                    device.accepted_by and f"{device.accepted_at:%Y-%m-%d %H:%M} by {device.accepted_by}",
                ),
            )
            if value
        ),
    ]
    lines += [
        f"  port {'now' if p.current else 'was'}: {p.switch} {p.port}"
        + (f" vlan {p.vlan}" if p.vlan is not None else "")
        + f" ({p.first_seen_at:%Y-%m-%d %H:%M} .. {p.last_seen_at:%Y-%m-%d %H:%M}, {p.mac})"
        for p in device.port_history
    ]
    lines += [
        f"  {a.at:%Y-%m-%d %H:%M} {a.action} by {a.by}" + (f": {a.note}" if a.note else "")
        for a in device.actions
    ]
    return "\n".join(lines)

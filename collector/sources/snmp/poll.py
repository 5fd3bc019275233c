"""Poll one device: system group first, then every profile that fits, into plain JSON-like facts.

Each profile's scalars and each table are fetched separately (a table's columns walked side by
side, one GETBULK asking for all of them) so that one failing table costs only itself: its failure
is recorded under ``errors["<profile>.<table>"]`` and the rest of the poll goes on. Turning rows
into facts (speeds, percentages, port → ifIndex) is pure and tested offline.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec
from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

from collector.sources.snmp.profiles import Profile, assemble_table, convert_scalars
from collector.sources.snmp.session import Credentials, SnmpError, SnmpSession

Rows = list[dict[str, Any]]
Facts = dict[str, Any]

SPECIAL_LEVELS = {-1: "other", -2: "unknown", -3: "some_remaining"}
"""Printer-MIB prtMarkerSuppliesLevel/MaxCapacity values that are not quantities."""

COUNTER32_MAX = 2**32 - 1


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """Where a device answers and how hard to try; ``timeout``/``retries`` are per request."""

    host: str
    port: int = 161
    timeout: float = 1.0
    retries: int = 1
    max_repetitions: int = 25
    max_rows: int = 10_000


class PollError(msgspec.Struct, frozen=True):
    """A named failure of one part of a poll (``kind`` is the SnmpError kind)."""

    kind: str
    message: str


class DevicePoll(msgspec.Struct, kw_only=True):
    """What one poll learned: facts by section, the profiles that answered, and errors by part."""

    host: str
    profiles: list[str] = msgspec.field(default_factory=list)
    facts: Facts = msgspec.field(default_factory=dict)
    errors: dict[str, PollError] = msgspec.field(default_factory=dict)
    seconds: float = 0.0


def supply_level(level: int | None, maximum: int | None) -> tuple[float | None, str | None]:
    """(percent, reason): a percent only when both numbers are real quantities, else why not."""
    if level is None:
        return None, "not_reported"
    if level in SPECIAL_LEVELS:
        return None, SPECIAL_LEVELS[level]
    if maximum is None:
        return None, "max_not_reported"
    if maximum in SPECIAL_LEVELS:
        return None, f"max_{SPECIAL_LEVELS[maximum]}"
    if level < 0 or maximum <= 0:
        return None, "invalid"
    if level > maximum:
        return None, "level_above_max"
    return round(100 * level / maximum, 1), None


def interface_speed(speed: int | None, high_speed: int | None) -> int | None:
    """Bits per second: ifSpeed, or ifHighSpeed (Mb/s) when ifSpeed is absent or saturated."""
    if high_speed is not None and (speed is None or speed >= COUNTER32_MAX):
        return high_speed * 1_000_000
    return speed


def finish_interface(row: Mapping[str, Any]) -> dict[str, Any]:
    """An ifTable+ifXTable row → interface facts, 64-bit octet counters preferred."""
    wide = row["in_octets_64"] is not None and row["out_octets_64"] is not None
    return {
        "if_index": row["if_index"],
        "name": row["name"] or row["descr"],
        "descr": row["descr"],
        "alias": row["alias"],
        "type": row["type"],
        "mtu": row["mtu"],
        "mac": row["mac"],
        "admin_status": row["admin_status"],
        "oper_status": row["oper_status"],
        "speed_bps": interface_speed(row["speed"], row["high_speed"]),
        "in_octets": row["in_octets_64"] if wide else row["in_octets_32"],
        "out_octets": row["out_octets_64"] if wide else row["out_octets_32"],
        "counter_bits": 64 if wide else 32,
        **{key: row[key] for key in ("in_errors", "out_errors", "in_discards", "out_discards")},
    }


def finish_fdb(ports: Rows, fdb: Rows, qfdb: Rows) -> Rows:
    """Forwarding entries with bridge port → ifIndex; Q-BRIDGE (with VLAN) wins over dot1d for a MAC."""
    if_index = {row["port"]: row["if_index"] for row in ports}
    seen = {row["mac"] for row in qfdb}
    entries = [*qfdb, *({**row, "vlan": None} for row in fdb if row["mac"] not in seen)]
    return [
        {
            "mac": row["mac"],
            "vlan": row["vlan"],
            "port": row["port"],
            "if_index": if_index.get(row["port"]),
            "status": row["status"],
        }
        for row in entries
    ]


def finish_supplies(supplies: Rows, colorants: Rows) -> Rows:
    """Supplies with colour and a percent that is never made up from special values."""
    colour = {(row["device"], row["colorant"]): row["colour"] for row in colorants}
    finished = []
    for row in supplies:
        percent, reason = supply_level(row["level"], row["max"])
        finished.append(
            {
                **{k: row[k] for k in ("device", "supply", "description", "type", "class", "unit")},
                "colour": colour.get((row["device"], row["colorant"])),
                "level": row["level"],
                "max": row["max"],
                "percent": percent,
                "percent_reason": reason,
            }
        )
    return finished


def finish_printer(tables: Mapping[str, Rows]) -> Facts:
    """The printer device (lowest hrDeviceIndex with printer data): model, serial, state, pages."""
    indexes = {row["device"] for name in ("supplies", "printers", "markers") for row in tables[name]}
    if not indexes:
        return {}
    device = min(indexes)

    def first(table: str, column: str) -> Any:
        return next((r[column] for r in tables[table] if r["device"] == device), None)

    counts = [r["life_count"] for r in tables["markers"] if r["device"] == device]
    counts = [count for count in counts if count is not None]
    return {
        "supplies": finish_supplies(tables["supplies"], tables["colorants"]),
        "printer": {
            "device": device,
            "model": first("devices", "model"),
            "serial": first("general", "serial"),
            "status": first("printers", "status"),
            "device_status": first("devices", "device_status"),
            "conditions": first("printers", "conditions"),
            "page_count": sum(counts) if counts else None,
        },
    }


def finish_chassis(rows: Rows) -> Facts:
    """ENTITY-MIB: the chassis entry (else the first entity) as the device's identity."""
    chassis = next((row for row in rows if row["class"] == "chassis"), rows[0] if rows else None)
    if chassis is None:
        return {}
    keys = ("descr", "name", "model", "serial", "firmware", "software", "hardware", "manufacturer")
    return {"entity": {key: chassis[key] for key in keys}}


def finish_lldp(local: Rows, remote: Rows) -> Facts:
    """LLDP neighbours with the local port's name; no section if the agent has no LLDP at all."""
    if not local and not remote:
        return {}
    names = {row["local_port"]: row["port_descr"] or row["port_id"] for row in local}
    neighbours = [
        {
            **{k: v for k, v in row.items() if k not in ("time_mark", "remote_index")},
            "local_port_name": names.get(row["local_port"]),
        }
        for row in remote
    ]
    return {"lldp": neighbours}


def _scalars_section(section: str) -> Callable[[Facts, Mapping[str, Rows]], Facts]:
    """Finisher for profiles made of scalars only: the section exists if any value was read."""
    return lambda scalars, _tables: {section: scalars} if any(v is not None for v in scalars.values()) else {}


FINISHERS: dict[str, Callable[[Facts, Mapping[str, Rows]], Facts]] = {
    "system": _scalars_section("system"),
    "ups": _scalars_section("ups"),
    "entity": lambda _s, t: finish_chassis(t["physical"]),
    "interfaces": lambda _s, t: (
        {"interfaces": [finish_interface(r) for r in t["interfaces"]]} if t["interfaces"] else {}
    ),
    "fdb": lambda _s, t: {"fdb": finish_fdb(t["ports"], t["fdb"], t["qfdb"])} if any(t.values()) else {},
    "lldp": lambda _s, t: finish_lldp(t["local"], t["remote"]),
    "printer": lambda _s, t: finish_printer(t),
}
"""Section name (a profile's ``section``) → pure function (scalars, tables) → facts by section."""


def merge_facts(facts: Facts, new: Facts) -> None:
    """Add one profile's sections; a vendor profile fills a generic section's gaps, never blanks it."""
    for section, value in new.items():
        current = facts.get(section)
        if isinstance(current, dict) and isinstance(value, dict):
            current.update({k: v for k, v in value.items() if v is not None or k not in current})
        else:
            facts[section] = value


async def _collect(
    session: SnmpSession, profile: Profile, errors: dict[str, PollError]
) -> tuple[Facts, dict[str, Rows]]:
    """Fetch one profile; a failed part is recorded and reads as empty, the others still count."""
    scalars: Facts = {}
    if profile.scalars:
        try:
            answers = await session.get([column.oid for column in profile.scalars.values()])
            scalars = convert_scalars(profile, answers)
        except SnmpError as error:
            errors[f"{profile.name}.scalars"] = PollError(error.kind, error.message)
            scalars = dict.fromkeys(profile.scalars)
    tables: dict[str, Rows] = {}
    for name, table in profile.tables.items():
        try:
            walked = await session.walk_columns([spec.oid for spec in table.columns.values()])
            by_column = {column: walked[spec.oid] for column, spec in table.columns.items()}
            tables[name] = assemble_table(table, by_column, profile.mappings)
        except SnmpError as error:
            errors[f"{profile.name}.{name}"] = PollError(error.kind, error.message)
            tables[name] = []
    return scalars, tables


async def _poll_profiles(session: SnmpSession, profiles: Sequence[Profile], result: DevicePoll) -> None:
    """System first (it selects vendor profiles; no answer means the device is down), then the rest."""
    system = next(p for p in profiles if p.section == "system")
    for profile in [system, *(p for p in profiles if p is not system)]:
        if profile is not system and not profile.matches(
            result.facts["system"]["object_id"], result.facts["system"]["descr"]
        ):
            continue
        scalars, tables = await _collect(session, profile, result.errors)
        new = FINISHERS[profile.section](scalars, defaultdict(list, tables))
        if profile is system and not new:
            return
        if new:
            result.profiles.append(profile.name)
            merge_facts(result.facts, new)
    if "ups" in result.facts:
        source = result.facts["ups"].get("output_source")
        result.facts["ups"]["on_battery"] = None if source is None else source == "battery"


async def poll_device(
    target: Target,
    credentials: Credentials,
    profiles: Sequence[Profile],
    deadline: float,
    *,
    engine: SnmpEngine | None = None,
) -> DevicePoll:
    """Poll one device within ``deadline`` seconds; device-side problems end up in ``errors``.

    Pass a shared ``engine`` when polling many devices: creating one costs more than a poll.
    """
    started = time.monotonic()
    own_engine = engine is None
    engine = engine or SnmpEngine()
    result = DevicePoll(host=target.host)
    try:
        session = await SnmpSession.open(
            engine,
            target.host,
            target.port,
            credentials,
            started + deadline,
            timeout=target.timeout,
            retries=target.retries,
            max_repetitions=target.max_repetitions,
            max_rows=target.max_rows,
        )
        await _poll_profiles(session, profiles, result)
    except SnmpError as error:  # only opening the session raises: later failures are per part
        result.errors["target"] = PollError(error.kind, error.message)
    finally:
        if own_engine:
            engine.close_dispatcher()
    result.seconds = round(time.monotonic() - started, 3)
    return result

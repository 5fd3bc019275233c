"""Device knowledge as data: which OIDs to ask, how to read them, and which devices they fit.

A profile (``profiles/*.yaml``) names scalars and tables (columns, index layout) and value mappings,
and the section of the poll result its facts land in. Profiles without ``match`` are generic: they
are tried on every device and apply when it answers them. Everything here is pure, so decoding is
tested without a network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from collector.sources.snmp.session import Value, oid_tuple

PROFILE_DIR = Path(__file__).with_name("profiles")

Json = str | int | float | list[str] | None


class Column(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One scalar or table column: its OID and how its raw value reads."""

    oid: str
    type: Literal["int", "text", "octets", "mac", "oid", "bits"] = "int"
    map: str | None = None
    """A mapping of the profile: integer → name, or for ``bits`` bit number → condition."""
    scale: float | None = None
    """Multiplier to a conventional unit (tenths of a volt → volts)."""


class IndexPart(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One component of a table index: a single sub-identifier or a 6-sub-identifier MAC."""

    name: str
    type: Literal["int", "mac"] = "int"


class Table(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Columns that share an index; rows are joined on the index across columns (and MIB tables)."""

    index: tuple[IndexPart, ...]
    columns: dict[str, Column]


class Match(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which devices a vendor profile is for: any sysObjectID prefix, or the sysDescr regex."""

    sys_object_id: tuple[str, ...] = ()
    sys_descr: str | None = None


class Profile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What to poll and where its facts go.

    ``section`` picks the poller's finisher, which reads the tables by name: ``entity`` needs
    ``physical``, ``interfaces`` needs ``interfaces``, ``fdb`` ``ports``/``fdb``/``qfdb``, ``lldp``
    ``local``/``remote``, ``printer`` the tables of printer.yaml; ``system`` and ``ups`` are scalars.
    A table a profile does not declare reads as empty.
    """

    name: str
    section: Literal["system", "entity", "interfaces", "fdb", "lldp", "printer", "ups"]
    match: Match | None = None
    scalars: dict[str, Column] = {}
    tables: dict[str, Table] = {}
    mappings: dict[str, dict[int, str]] = {}

    def __post_init__(self) -> None:
        columns = [*self.scalars.values(), *(c for t in self.tables.values() for c in t.columns.values())]
        for column in columns:
            if column.map is not None and column.map not in self.mappings:
                raise ValueError(f"profile {self.name}: column {column.oid} uses unknown map {column.map}")

    def matches(self, sys_object_id: str | None, sys_descr: str | None) -> bool:
        """Generic profiles fit every device; vendor ones by sysObjectID prefix or sysDescr."""
        if self.match is None:
            return True
        if sys_object_id and any(
            oid_tuple(sys_object_id)[: len(oid_tuple(p))] == oid_tuple(p) for p in self.match.sys_object_id
        ):
            return True
        return bool(self.match.sys_descr and sys_descr and re.search(self.match.sys_descr, sys_descr))


def load_profiles(directory: Path = PROFILE_DIR) -> list[Profile]:
    """All profiles of a directory, generic first, in file-name order (a bad file fails loudly)."""
    profiles = [msgspec.yaml.decode(p.read_bytes(), type=Profile) for p in sorted(directory.glob("*.yaml"))]
    return sorted(profiles, key=lambda p: p.match is not None)


def decode_bits(data: bytes, names: Mapping[int, str]) -> list[str]:
    """An SNMP BITS/OCTET STRING bit field (bit 0 = MSB of byte 0) → names of the set bits."""
    return [
        names.get(bit, f"bit_{bit}") for bit in range(len(data) * 8) if data[bit // 8] & (0x80 >> (bit % 8))
    ]


def format_mac(data: bytes | Sequence[int]) -> str:
    """Six octets → ``aa:bb:cc:dd:ee:ff``."""
    return ":".join(f"{b:02x}" for b in data)


def _text(data: bytes) -> str | None:
    """Device text: UTF-8 with replacement, without NUL padding; empty means not set."""
    text = data.decode("utf-8", "replace").replace("\x00", "").strip()
    return text or None


def _printable(data: bytes) -> str | None:
    """``data`` as text if it is all printable ASCII (an ID that reads as text), else ``None``."""
    return data.decode("ascii") if data and all(32 <= b < 127 for b in data) else None


def convert(column: Column, value: Value, mappings: Mapping[str, Mapping[int, str]]) -> Json:
    """One raw value → its JSON-like fact, as the column declares; a wrong type reads as absent."""
    names = mappings[column.map] if column.map else None
    match column.type, value:
        case "int", int():
            if names is not None:
                return names.get(value, f"unknown_{value}")
            return value * column.scale if column.scale is not None else value
        case "text", bytes():
            return _text(value)
        case "octets", bytes():
            return _printable(value) or (format_mac(value) if value else None)
        case "mac", bytes():
            # Six octets as the MIB says; some agents (TP-Link) send the text "b0:be:76:…" instead.
            return format_mac(value) if len(value) == 6 else (_printable(value) or "").lower() or None
        case "oid", str():
            return value
        case "bits", bytes():
            return decode_bits(value, names or {})
    return None


def convert_scalars(profile: Profile, answers: Mapping[str, Value | None]) -> dict[str, Json]:
    """A GET answer (oid → raw value or ``None``) → the profile's named scalar facts."""
    facts: dict[str, Json] = {}
    for name, column in profile.scalars.items():
        value = answers.get(column.oid)
        facts[name] = None if value is None else convert(column, value, profile.mappings)
    return facts


def parse_index(suffix: tuple[int, ...], parts: Sequence[IndexPart]) -> dict[str, Any] | None:
    """An instance suffix → named index fields; ``None`` if it does not have the declared shape."""
    fields: dict[str, Any] = {}
    position = 0
    for part in parts:
        width = 6 if part.type == "mac" else 1
        chunk = suffix[position : position + width]
        if len(chunk) != width:
            return None
        fields[part.name] = format_mac(chunk) if part.type == "mac" else chunk[0]
        position += width
    return fields if position == len(suffix) else None


def assemble_table(
    table: Table, walked: Mapping[str, Sequence[tuple[str, Value]]], mappings: Mapping[str, Mapping[int, str]]
) -> list[dict[str, Any]]:
    """Walked columns (name → [(oid, value)]) → rows in index order, each with every declared column.

    Instances whose index does not fit the declared layout are dropped rather than guessed at.
    """
    rows: dict[tuple[int, ...], dict[str, Any]] = {}
    for name, column in table.columns.items():
        prefix = oid_tuple(column.oid)
        for oid, value in walked.get(name, ()):
            suffix = oid_tuple(oid)[len(prefix) :]
            if suffix not in rows:
                index = parse_index(suffix, table.index)
                if index is None:
                    continue
                rows[suffix] = index | dict.fromkeys(table.columns)
            rows[suffix][name] = convert(column, value, mappings)
    return [rows[key] for key in sorted(rows)]

"""CLI output → Dozor facts. Pure: TextFSM (ntc-templates or a template of ours) + field mapping.

Records come out in Dozor's vocabulary, the same as the SNMP poller's, so both sources merge:
- ``version``: hostname, model, serial, version, firmware (one record, merged over commands)
- ``mac_table``: mac (``aa:bb:cc:dd:ee:ff``), vlan (int or None), port
- ``arp``: ip, mac, interface
- ``interfaces``: name, status, vlan, speed, duplex, description
- ``neighbors``: local_port, remote_name, remote_port, remote_address
Output that the parser rejects, or that yields nothing where something must be, raises
``ParseError``; it never comes out as a traceback or as an empty table that would erase facts.
"""

from __future__ import annotations

import io
import ipaddress
import re
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import msgspec
import textfsm
from ntc_templates.parse import ParsingException, parse_output

from collector.sources.ssh.errors import CliError, ParseError
from collector.sources.ssh.platforms import TEMPLATE_DIR, Command, FactKind, FieldRule, platform

FIELDS: dict[str, tuple[str, ...]] = {
    "version": ("hostname", "model", "serial", "version", "firmware"),
    "mac_table": ("mac", "vlan", "port"),
    "arp": ("ip", "mac", "interface"),
    "interfaces": ("name", "status", "vlan", "speed", "duplex", "description"),
    "neighbors": ("local_port", "remote_name", "remote_port", "remote_address"),
}
"""Dozor's field names per fact kind; every record has all of them (``None`` = not known)."""

Record = dict[str, Any]


class Facts(msgspec.Struct, frozen=True):
    """What one command said: the fact kind and its records in Dozor's vocabulary."""

    kind: FactKind
    records: list[Record]


_HEX = re.compile(r"[0-9a-f]")


def normalize_mac(text: str) -> str | None:
    """Any MAC spelling (``0011.2233.4455``, ``00-11-…``, ``001122-334455``) → ``00:11:22:33:44:55``."""
    digits = "".join(_HEX.findall(text.lower()))
    if len(digits) != 12 or len(re.sub(r"[0-9a-fA-F.:\- ]", "", text)) > 0:
        return None
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def _vlan(text: str) -> int | None:
    return int(text) if text.strip().isdigit() and 0 < int(text) < 4096 else None


def _text(value: Any) -> str | None:
    """A parsed value as text: lists (stack members) give their first entry, blanks are ``None``."""
    if isinstance(value, list):
        value = value[0] if value else ""
    text = str(value).strip() if value is not None else ""
    return text or None


def _field(record: Mapping[str, Any], rule: str | FieldRule) -> str | None:
    if isinstance(rule, str):
        return _text(record.get(rule))
    value = _text(record.get(rule.source))
    if value is not None and rule.pattern:
        found = re.search(rule.pattern, value)
        value = found.group(1) if found else None
    if value is not None and rule.map:
        value = rule.map.get(value, value)
    return value if value is not None else rule.default


_TYPED = {"mac": normalize_mac, "ip": _ip, "remote_address": _ip, "vlan": _vlan}


def map_record(command: Command, record: Mapping[str, Any]) -> Record:
    """One parser record → Dozor's fields for the command's fact kind (typed where Dozor types them)."""
    mapped: Record = dict.fromkeys(FIELDS[command.fact])
    for name, rule in command.fields.items():
        value = _field(record, rule)
        convert = _TYPED.get(name)
        mapped[name] = convert(value) if (convert and value is not None) else value
    if command.fact == "interfaces" and mapped["status"] is not None:
        mapped["status"] = mapped["status"].lower()
    return mapped


@cache
def _own_template(name: str) -> str:
    return (TEMPLATE_DIR / name).read_text()


def parse_records(platform_name: str, command: Command, output: str) -> list[dict[str, Any]]:
    """The parser's own records (lower-case field names), from ntc-templates or our template."""
    spec = platform(platform_name)
    try:
        if command.template:
            fsm = textfsm.TextFSM(io.StringIO(_own_template(command.template)))
            header = [h.lower() for h in fsm.header]
            return [dict(zip(header, row, strict=True)) for row in fsm.ParseText(output)]
        return parse_output(platform=spec.ntc_platform, command=command.command, data=output)
    except (textfsm.TextFSMError, ParsingException) as exc:
        raise ParseError(f"{command.command!r} output does not parse: {_first_line(str(exc))}") from None


def parse_facts(platform_name: str, command: str, output: str) -> Facts:
    """One command's output → ``Facts`` in Dozor's vocabulary, or ``CliError``/``ParseError``."""
    spec = platform(platform_name)
    known = spec.command(command)
    if any(re.search(p, output, re.MULTILINE) for p in spec.errors):
        raise CliError("command_rejected", f"the device rejected {known.command!r}")
    if re.search(spec.pager, output, re.MULTILINE):
        raise CliError("pager_left_on", f"{known.command!r} output stops at a pager prompt")
    printable = sum(ch.isprintable() or ch in "\t\n\r" for ch in output)
    if printable < 0.98 * len(output):
        raise ParseError(f"{known.command!r} output contains binary data")
    records = [map_record(known, r) for r in parse_records(platform_name, known, output)]
    if known.fact == "version":
        records = [r for r in records if any(v is not None for v in r.values())]
        if not records:
            raise ParseError(f"{known.command!r} output has none of the expected fields")
    elif output.strip() and not records and not _looks_like_empty_table(output):
        raise ParseError(f"{known.command!r} output has no rows and no table header")
    return Facts(kind=known.fact, records=_valid(known.fact, records))


_REQUIRED = {
    "mac_table": ("mac",),
    "arp": ("ip", "mac"),
    "interfaces": ("name",),
    "neighbors": ("local_port",),
}


def _valid(kind: FactKind, records: Iterable[Record]) -> list[Record]:
    """Drops rows that cannot be used: MAC/ARP rows without a valid address, nameless interfaces."""
    needed = _REQUIRED.get(kind, ())
    return [r for r in records if all(r[name] is not None for name in needed)]


def _looks_like_empty_table(output: str) -> bool:
    """A table command on a device with nothing in the table still prints a header or a total."""
    return bool(re.search(r"(?im)^.*(?:mac|address|interface|port|total|vlan|flags).*$", output))


def merge_version(parts: Iterable[Facts]) -> Record:
    """Version records of several commands → one: the first command that knows a field wins."""
    merged: Record = dict.fromkeys(FIELDS["version"])
    for facts in parts:
        for record in facts.records[:1]:
            for name, value in record.items():
                if merged[name] is None:
                    merged[name] = value
    return merged


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text

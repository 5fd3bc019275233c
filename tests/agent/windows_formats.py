"""Test-only helpers for the Windows probes. The loaders turn the real recordings in
``../shared/testdata/windows`` into the raw material ``collect()`` returns
(``{"Win32_X.json": "<ConvertTo-Json text>"}``), so ``parse()`` runs on real machines' data.

Formats (see that folder's INDEX.md): ``wmic … /format:list`` dumps and regedit ``.reg`` exports
(both UTF-16LE), Tactical RMM ``wmi*.json`` (one section per WMI class, each instance a list of
dicts), cnquery TOML mocks (command → stdout) and raw EDID blocks.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec

from agent.schema.report import Hardware, Health, Inventory, Security

WINDOWS = Path("windows")
GLPI_WMI = WINDOWS / "glpi-agent" / "resources" / "win32" / "wmi"
GLPI_REGISTRY = WINDOWS / "glpi-agent" / "resources" / "win32" / "registry"
GLPI_EDID = WINDOWS / "glpi-agent" / "resources" / "generic" / "edid"
TRMM = WINDOWS / "tacticalrmm" / "api" / "tacticalrmm" / "tacticalrmm" / "test_data"
CNQUERY = WINDOWS / "cnquery" / "resources" / "packs"


_FIELD_TYPES = {
    field.name: field.type
    for section in (Hardware, Security, Inventory, Health)
    for field in msgspec.structs.fields(section)
}


def checked(fields: dict[str, Any]) -> Any:
    """A probe's fields as the report carries them (JSON-like builtins), after the schema's checks
    (lengths, patterns, bounds) that the collector's decoder applies."""
    builtins = msgspec.to_builtins(fields)
    for name, value in builtins.items():
        msgspec.convert(value, _FIELD_TYPES[name])
    return builtins


def parsed(module: ModuleType, raw: Mapping[str, str | bytes]) -> dict[str, Any]:
    """``module.parse(raw)``, whose fields must also pass the schema's checks."""
    result: dict[str, Any] = module.parse(raw)
    checked(result)
    return result


def as_raw(key: str, data: Any) -> dict[str, str | bytes]:
    """One ``collect()`` entry: ``data`` serialised as ConvertTo-Json would."""
    return {key: json.dumps(data)}


# ---------------------------------------------------------------- wmic /format:list


def _wmic_value(value: str) -> Any:
    """wmic writes NULL and "" alike as nothing, arrays as {"a","b"} or {3,4}, & as &amp;."""
    value = value.replace("&amp;", "&")
    if value == "":
        return None
    if value.startswith("{") and value.endswith("}"):
        inner = value[1:-1]
        quoted = re.findall(r'"((?:[^"]|"")*)"', inner)
        return quoted if quoted or not inner else inner.split(",")
    return value  # numbers and TRUE/FALSE stay strings, as older agents send them


def read_wmic_list(path: Path) -> list[dict[str, Any]]:
    """The instances of a ``wmic path <Class> get /format:list`` dump (UTF-16LE, CRLF)."""
    instances: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in path.read_bytes().decode("utf-16").splitlines():
        if not line.strip():
            if current:
                instances.append(current)
                current = {}
            continue
        name, _, value = line.partition("=")
        current[name] = _wmic_value(value)
    if current:
        instances.append(current)
    return instances


# ---------------------------------------------------------------- regedit .reg export


def _reg_string(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _reg_data(data: str) -> Any:
    """A value as ``Get-ItemProperty`` gives it: REG_SZ/EXPAND_SZ str, DWORD/QWORD int, MULTI_SZ list."""
    if data.startswith('"'):
        return _reg_string(data[1:-1])
    if data.startswith("dword:"):
        return int(data[6:], 16)
    kind, _, hex_bytes = data.partition(":")
    blob = bytes(int(byte, 16) for byte in hex_bytes.split(",") if byte)
    if kind == "hex(2)":  # REG_EXPAND_SZ, UTF-16LE with its terminating NUL
        return blob.decode("utf-16-le").rstrip("\x00")
    if kind == "hex(7)":  # REG_MULTI_SZ
        return [part for part in blob.decode("utf-16-le").split("\x00") if part]
    if kind == "hex(b)":  # REG_QWORD
        return int.from_bytes(blob, "little")
    return list(blob)  # REG_BINARY and the rest


def read_reg(path: Path) -> dict[str, dict[str, Any]]:
    """Key path → values of a regedit export (UTF-16LE); ``\\``-continued hex lines are joined."""
    text = path.read_bytes().decode("utf-16")
    text = re.sub(r"\\\r?\n  ", "", text)
    keys: dict[str, dict[str, Any]] = {}
    values: dict[str, Any] = {}
    for line in text.splitlines():
        if match := re.fullmatch(r"\[(.+)\]", line):
            values = keys.setdefault(match[1], {})
        elif match := re.fullmatch(r'"((?:[^"\\]|\\.)*)"=(.*)', line):
            values[_reg_string(match[1])] = _reg_data(match[2])
        elif line.startswith("@="):
            values["(default)"] = _reg_data(line[2:])
    return keys


def reg_subkeys(keys: dict[str, dict[str, Any]], parent: str) -> list[dict[str, Any]]:
    """``Get-ItemProperty <parent>\\*``: each direct subkey's values plus PSChildName."""
    prefix = parent + "\\"
    return [
        {**values, "PSChildName": path[len(prefix) :]}
        for path, values in keys.items()
        if path.startswith(prefix) and "\\" not in path[len(prefix) :]
    ]


def reg_key(keys: dict[str, dict[str, Any]], path: str) -> dict[str, Any]:
    """``Get-ItemProperty <path>``: one key's values plus PSChildName."""
    return {**keys[path], "PSChildName": path.rsplit("\\", 1)[-1]}


# ---------------------------------------------------------------- Tactical RMM wmi*.json


def trmm_section(path: Path, section: str) -> list[dict[str, Any]]:
    """One WMI class of a TRMM agent dump; each instance's list of dicts merged into one dict."""
    instances: list[dict[str, Any]] = []
    for parts in json.loads(path.read_text("utf-8"))[section]:
        merged: dict[str, Any] = {}
        for part in parts:
            merged.update(part)
        instances.append(merged)
    return instances


# WSUS classification ids of the category titles TRMM stores (titles are localised, ids are not).
CLASSIFICATIONS = {
    "Critical Updates": "e6cf1350-c01b-414d-a61f-263d14d133b4",
    "Feature Packs": "b54e7d24-7add-428f-8b75-90a396fa584f",
    "Security Updates": "0fa1201d-4330-4fa8-8ae9-b877473b6441",
    "Update Rollups": "28bc880e-0592-4cbf-8f95-c79b17911d5f",
    "Updates": "cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83",
}


def trmm_pending_updates(path: Path) -> list[dict[str, Any]]:
    """TRMM's Windows Update search results, not yet installed, in the shape of the probe's WUA query."""
    (updates,) = json.loads(path.read_text("utf-8")).values()
    return [
        {
            "Title": update["Title"],
            "MsrcSeverity": update["Severity"] or None,
            "CategoryIDs": [
                CLASSIFICATIONS[name] for name in update["Categories"] if name in CLASSIFICATIONS
            ],
        }
        for update in updates.values()
        if not update["Installed"]
    ]


# ---------------------------------------------------------------- cnquery TOML mocks


def _json_escape(match: re.Match[str]) -> str:
    return match[0] if match[1] in '\\/"bfnrtu' else "\\" + match[0]


def cnquery_stdout(path: Path, command_part: str) -> str:
    """The stdout recorded for the one command whose line contains ``command_part``."""
    commands = tomllib.loads(path.read_text("utf-8"))["commands"]
    found = [entry["stdout"] for key, entry in commands.items() if command_part in entry.get("command", key)]
    assert len(found) == 1, f"{len(found)} commands in {path.name} match {command_part!r}"
    # Where the mock's author copied PowerShell's "Test\\chris" into a TOML basic string, TOML left
    # "Test\chris", which is not JSON; double such lone backslashes again.
    return re.sub(r"\\(.)", _json_escape, found[0], flags=re.DOTALL)


def wmic_csv(stdout: str) -> list[dict[str, Any]]:
    """``wmic … get * /format:csv`` output as instances (empty cells → None)."""
    rows = csv.DictReader(io.StringIO(stdout.strip()))
    return [{name: _wmic_value(value) for name, value in row.items()} for row in rows]


# ---------------------------------------------------------------- EDID → WmiMonitorID


def _uint16(text: str, length: int) -> list[int]:
    return [ord(char) for char in text] + [0] * (length - len(text))


def edid_to_wmimonitorid(edid: bytes) -> dict[str, Any]:
    """What Windows' WmiMonitorID makes of an EDID block: the PnP ID from bytes 8-9, the product
    code (bytes 10-11) in hex, the 0xFF (serial) and 0xFC (name) descriptors, week and year from
    bytes 16-17, strings as uint16 arrays."""
    packed = int.from_bytes(edid[8:10], "big")
    pnp_id = "".join(chr(((packed >> shift) & 0x1F) + 64) for shift in (10, 5, 0))
    descriptors = {}
    for offset in (54, 72, 90, 108):
        block = edid[offset : offset + 18]
        if block[:3] == b"\x00\x00\x00":
            descriptors[block[3]] = block[5:].split(b"\n")[0].decode("cp437").strip()
    # Without a serial descriptor Windows gives the 32-bit serial of bytes 12-15 in decimal.
    serial = descriptors.get(0xFF) or str(int.from_bytes(edid[12:16], "little"))
    return {
        "Active": True,
        "ManufacturerName": _uint16(pnp_id, 16),
        "ProductCodeID": _uint16(f"{int.from_bytes(edid[10:12], 'little'):04X}", 7),
        "UserFriendlyName": _uint16(descriptors.get(0xFC, ""), 13),
        "SerialNumberID": _uint16(serial, 16),
        "WeekOfManufacture": edid[16],
        "YearOfManufacture": edid[17] + 1990,
    }

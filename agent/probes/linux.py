"""What the Linux probes share: files under an I/O root, tools found also in sbin and run in the C
locale, and pure parsers for the text formats Linux keeps its facts in.

Collecting: :func:`read_files` reads small files (absent or unreadable ones are left out, so their
fields parse as "not collected"); :func:`run_tool` runs a tool by name with ``LC_ALL=C`` so its
output does not depend on the PC's language, and maps "not root" errors to ``permission``.

Parsing: :func:`colon_fields` (``/proc/cpuinfo``, ``/proc/meminfo``, ``dmidecode``, dpkg status),
:func:`key_values` (``os-release``), :func:`ini_sections` (``smb.conf``, ``sssd.conf``,
``xrdp.ini``), :func:`local_time` (log stamps written in the PC's time zone).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.probes.base import ProbeFailure, read_text, run_command

# /usr/sbin is not on an ordinary user's PATH on Debian, yet smartctl, nft and dmidecode live there.
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")
BIN_DIRS = ("/usr/local/bin", "/usr/bin", "/bin", *SBIN_DIRS)
VIRTUAL_BLOCK_DEVICE = re.compile(r"(loop|ram|zram|dm-|md|sr|nbd|fd)\d*|.*(boot\d+|rpmb)")
"""Block devices that are not disks of their own: loop, RAM, zram, device-mapper, md RAID, optical,
network, floppy, and the eMMC boot and RPMB areas."""
_NOT_ROOT = ("operation not permitted", "permission denied", "must be root", "need to be root")


# ---------------------------------------------------------------- collecting


def under(root: str | Path, path: str) -> Path:
    """``path`` (absolute on the real system) inside the I/O root ``root``."""
    return Path(root) / path.lstrip("/")


def read_files(files: Mapping[str, Path]) -> dict[str, str | bytes]:
    """key → text of each file that exists and is readable; the others are left out."""
    found: dict[str, str | bytes] = {}
    for key, path in files.items():
        content = read_text(path)
        if content is not None:
            found[key] = content
    return found


def find_tool(name: str) -> str | None:
    """Full path of a tool on PATH or in the sbin directories, or None."""
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *SBIN_DIRS])
    return shutil.which(name, path=search)


def installed(name: str, root: str | Path = "/") -> bool:
    """Whether a program of that name is installed in the usual bin/sbin directories under ``root``."""
    return any(under(root, f"{directory}/{name}").is_file() for directory in BIN_DIRS)


def run_tool(name: str, *args: str, timeout: float = 30.0, ok_codes: tuple[int, ...] = (0,)) -> str:
    """Run ``name`` in the C locale; ProbeFailure ``missing_tool`` / ``permission`` / ``failed``."""
    path = find_tool(name)
    if path is None:
        raise ProbeFailure("missing_tool", f"{name} is not installed")
    try:
        return run_command(["env", "LC_ALL=C", path, *args], timeout=timeout, ok_codes=ok_codes)
    except ProbeFailure as failure:
        if failure.kind == "failed" and any(word in failure.message.lower() for word in _NOT_ROOT):
            raise ProbeFailure("permission", failure.message) from failure
        raise


def optional_tool(
    name: str, *args: str, timeout: float = 30.0, ok_codes: tuple[int, ...] = (0,)
) -> str | None:
    """Like :func:`run_tool` for extras (dmidecode, smartctl): None when the tool cannot give them."""
    try:
        return run_tool(name, *args, timeout=timeout, ok_codes=ok_codes)
    except ProbeFailure:
        return None


def to_json(value: Any) -> str:
    """Serialise collected values (sysfs attributes, psutil results) as the raw text ``parse()`` gets."""
    return json.dumps(value, indent=1, sort_keys=True)


def local_zone(root: str | Path = "/") -> str:
    """The PC's time zone name (``Europe/Moscow``), from ``/etc/localtime`` or ``/etc/timezone``."""
    link = under(root, "etc/localtime")
    try:
        target = os.readlink(link)
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1]
    return read_text(under(root, "etc/timezone")) or "UTC"


# ---------------------------------------------------------------- parsing


def blocks(content: str) -> list[str]:
    """Paragraphs separated by blank lines (dpkg status, cpuinfo, dmidecode)."""
    return [block for block in re.split(r"\n\s*\n", content) if block.strip()]


def colon_fields(block: str, continuation: bool = False) -> dict[str, str]:
    """``Key: value`` lines → dict (first occurrence wins). With ``continuation``, lines starting with
    whitespace continue the previous field (dpkg) and are skipped rather than read as keys."""
    fields: dict[str, str] = {}
    for line in block.splitlines():
        if continuation and line[:1].isspace():
            continue
        key, sep, value = line.partition(":")
        if sep and key.strip():
            fields.setdefault(key.strip(), value.strip())
    return fields


def key_values(content: str) -> dict[str, str]:
    """Shell-style ``KEY="value"`` lines (os-release), unquoted."""
    values: dict[str, str] = {}
    for line in content.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value.strip("\"'")]
        values[key.strip()] = " ".join(words)
    return values


def ini_sections(content: str) -> dict[str, dict[str, str]]:
    """Samba-style INI: section and key names lower-cased with single spaces, ``#``/``;`` comments,
    indented keys (which ``configparser`` would read as continuation lines)."""
    sections: dict[str, dict[str, str]] = {}
    current = sections.setdefault("", {})
    for line in content.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(_ini_name(line[1:-1]), {})
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[_ini_name(key)] = value.strip()
    return sections


def _ini_name(name: str) -> str:
    return " ".join(name.lower().split())


def first_line(value: str | bytes | None) -> str | None:
    """The first non-empty line of a raw value, or None."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    for line in (value or "").splitlines():
        if line.strip():
            return line.strip()
    return None


def local_time(stamp: str, zone: str | None) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` written in ``zone`` (UTC when unknown) → an aware UTC instant."""
    try:
        naive = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    try:
        tz: Any = ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    return naive.replace(tzinfo=tz).astimezone(UTC)


def sysfs_attributes(directory: Path, names: Iterable[str]) -> dict[str, str]:
    """The readable attributes ``names`` (paths relative to ``directory``) of one sysfs object."""
    return {name: value for name in names if (value := read_text(directory / name)) is not None}

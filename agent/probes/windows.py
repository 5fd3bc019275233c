"""What the Windows probes share: one PowerShell run per probe, registry reads, and pure helpers.

Collecting: :func:`powershell` runs several CIM/cmdlet pipelines in ONE ``powershell.exe`` (its start
costs about a second) and returns each pipeline's ``ConvertTo-Json`` text under the key the probe
chose; :func:`registry_values` and :func:`registry_subkeys` read the registry with ``winreg`` and
give the same shape as ``Get-ItemProperty … | ConvertTo-Json``, so one parser serves both ways.
``winreg`` and ``powershell.exe`` are only touched inside these functions: the ``*_windows``
modules import on Linux, where their ``parse()`` is tested on recorded outputs.

Parsing: :func:`instances` loads such JSON whatever PowerShell made of it (one object instead of an
array, null, nothing), :func:`parse_datetime` / :func:`parse_date` read every date format Windows
tools emit, and :func:`to_bool`, :func:`to_int` coerce values that arrive as native JSON, as strings
(wmic, older agents) or as registry DWORDs. ``text`` and ``hw_text`` come from :mod:`agent.probes.base`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from agent.probes.base import FailureKind, ProbeFailure, Raw, run_command
from agent.probes.base import load_json as load_json_text

HKLM = "HKEY_LOCAL_MACHINE"
HKU = "HKEY_USERS"

# ---------------------------------------------------------------- collecting: PowerShell

_PRELUDE = (
    "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'; "
    "$out = [ordered]@{}; $err = [ordered]@{}"
)
# @(…) makes ConvertTo-Json write an array even for one result or none; errors are kept per key
# with the locale-independent FullyQualifiedErrorId in front of the (localised) message.
_STEP = (
    "try {{ $out['{key}'] = ConvertTo-Json -InputObject @({pipeline}) -Depth 4 -Compress }} "
    "catch {{ $err['{key}'] = [string]$_.FullyQualifiedErrorId + ': ' + $_.Exception.Message }}"
)
# Escape everything outside ASCII, so the console code page (cp866 on a Russian PC) cannot mangle
# names on the way through the pipe.
_EPILOGUE = (
    "$json = ConvertTo-Json -InputObject @{ out = $out; err = $err } -Depth 3 -Compress; "
    r"[regex]::Replace($json, '[^\x00-\x7F]', { param($m) '\u{0:x4}' -f [int][char]$m.Value })"
)
_ERROR_KINDS: tuple[tuple[FailureKind, tuple[str, ...]], ...] = (
    # WBEM_E_ACCESS_DENIED, E_ACCESSDENIED
    ("permission", ("UnauthorizedAccess", "0x80041003", "0x80070005", "AccessDenied")),
    ("missing_tool", ("CommandNotFoundException",)),
    # WBEM_E_INVALID_NAMESPACE, WBEM_E_INVALID_CLASS, WBEM_E_NOT_SUPPORTED
    ("unsupported", ("0x8004100e", "0x80041010", "0x8004100c", "PlatformNotSupported", "NotSupported")),
)


def cim(class_name: str, *properties: str, namespace: str | None = None, where: str | None = None) -> str:
    """A ``Get-CimInstance … | Select-Object …`` pipeline; ``where`` is a WQL filter without quotes."""
    parts = ["Get-CimInstance"]
    if namespace:
        parts.append(f"-Namespace {namespace}")
    parts.append(f"-ClassName {class_name}")
    if where:
        parts.append(f"-Filter '{where}'")
    return " ".join(parts) + " | Select-Object " + ", ".join(properties)


def powershell_exe() -> str:
    """The 64-bit Windows PowerShell by full path, also from a 32-bit agent (via Sysnative), so
    64-bit-only modules (LocalAccounts, BitLocker) and the 64-bit registry view are there."""
    system_root = os.environ.get("SYSTEMROOT", r"C:\Windows")
    system32 = "Sysnative" if os.environ.get("PROCESSOR_ARCHITEW6432") else "System32"
    return rf"{system_root}\{system32}\WindowsPowerShell\v1.0\powershell.exe"


def powershell_script(pipelines: Mapping[str, str]) -> str:
    """The one script that runs every pipeline and prints ``{"out": {key: json}, "err": {key: why}}``."""
    steps = [_STEP.format(key=key, pipeline=pipeline) for key, pipeline in pipelines.items()]
    script = "; ".join([_PRELUDE, *steps, _EPILOGUE])
    if '"' in script:
        # Double quotes would have to survive Windows command-line quoting; keep them out.
        raise ValueError("PowerShell pipelines must use single quotes only")
    return script


def powershell(
    pipelines: Mapping[str, str], *, required: tuple[str, ...] = (), timeout: float = 120.0
) -> dict[str, str]:
    """Run ``pipelines`` (key → PowerShell pipeline) in one ``powershell.exe``; return key → JSON.

    A pipeline that failed is left out, so its fields parse as "not collected"; the probe fails as a
    whole when a ``required`` key failed or when nothing at all could be collected.
    """
    stdout = run_command(
        [
            powershell_exe(),
            "-NoLogo",
            "-NoProfile",
            "-NonInteractive",
            "-Command",
            powershell_script(pipelines),
        ],
        timeout=timeout,
    )
    try:
        answer = json.loads(stdout)
        out, err = dict(answer["out"] or {}), dict(answer["err"] or {})
    except (ValueError, KeyError, TypeError) as exc:
        raise ProbeFailure("failed", f"PowerShell printed no result: {stdout[:200]!r}") from exc
    failed = [key for key in required if key in err] or ([] if out else list(err))
    if failed:
        raise ProbeFailure(_error_kind(err[failed[0]]), f"{failed[0]}: {err[failed[0]]}"[:1000])
    return out


def _error_kind(error: str) -> FailureKind:
    for kind, markers in _ERROR_KINDS:
        if any(marker.lower() in error.lower() for marker in markers):
            return kind
    return "failed"


# ---------------------------------------------------------------- collecting: registry


def _ps_value(data: Any) -> Any:
    """A registry value as ``Get-ItemProperty | ConvertTo-Json`` writes it (REG_BINARY → numbers)."""
    return list(data) if isinstance(data, bytes) else data


def _read_key(key: Any, child_name: str, names: tuple[str, ...] | None) -> dict[str, Any]:
    import winreg

    values: dict[str, Any] = {}
    index = 0
    while True:
        try:
            name, data, _kind = winreg.EnumValue(key, index)
        except OSError:  # no more values
            break
        index += 1
        if names is None or name in names:
            values[name or "(default)"] = _ps_value(data)
    values["PSChildName"] = child_name
    return values


def registry_values(
    path: str, hive: str = HKLM, names: tuple[str, ...] | None = None
) -> dict[str, Any] | None:
    """The values of one key (64-bit view) like ``Get-ItemProperty``; None when the key is absent."""
    import winreg

    try:
        with winreg.OpenKey(getattr(winreg, hive), path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as key:
            return _read_key(key, path.rsplit("\\", 1)[-1], names)
    except OSError:
        return None


def registry_subkeys(path: str, hive: str = HKLM) -> list[dict[str, Any]]:
    """Every subkey's values like ``Get-ItemProperty <path>\\*``; unreadable subkeys are skipped."""
    import winreg

    entries: list[dict[str, Any]] = []
    try:
        parent = winreg.OpenKey(getattr(winreg, hive), path, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY)
    except OSError:
        return entries
    with parent:
        index = 0
        while True:
            try:
                child = winreg.EnumKey(parent, index)
            except OSError:  # no more subkeys
                break
            index += 1
            try:
                with winreg.OpenKey(parent, child, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY) as key:
                    entries.append(_read_key(key, child, None))
            except OSError:
                continue
    return entries


def user_hives() -> list[str]:
    """SIDs of the user hives loaded under HKEY_USERS (logged-on users; the agent runs as SYSTEM,
    whose own HKCU holds nobody's programs)."""
    return [
        entry["PSChildName"]
        for entry in registry_subkeys("", HKU)
        if re.fullmatch(r"S-1-5-21-[\d-]+", entry["PSChildName"])
    ]


def to_json(value: Any) -> str:
    """Serialise what ``winreg`` read, as the raw text ``parse()`` gets."""
    return json.dumps(value)


# ---------------------------------------------------------------- parsing


def load_json(raw: Raw, key: str) -> Any:
    """Like :func:`agent.probes.base.load_json`, for what PowerShell may also print: a BOM, or
    nothing at all for a pipeline without results (→ no instances, ``[]``)."""
    value = raw.get(key)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    value = value.lstrip("\ufeff")
    return load_json_text({key: value}, key) if value.strip() else []


class Instance(dict[str, Any]):
    """One CIM instance or registry key whose names match case-insensitively, as in PowerShell:
    ``Select-Object HotFixId`` writes "HotFixId" where the class says "HotFixID"."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__((name.lower(), value) for name, value in data.items())

    def __getitem__(self, name: str) -> Any:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


def instances(raw: Raw, key: str) -> list[Instance] | None:
    """CIM instances (or registry keys) under ``key`` as a list, whether PowerShell wrote an array,
    a single object or null; None when the key was not collected."""
    data = load_json(raw, key)
    if data is None:
        return None
    if isinstance(data, dict):
        data = [data]
    return [Instance(item) for item in data if isinstance(item, dict)] if isinstance(data, list) else []


def first_instance(raw: Raw, key: str) -> Instance | None:
    """The one instance of a singleton class (Win32_ComputerSystem…), or None."""
    found = instances(raw, key)
    return found[0] if found else None


def to_int(value: Any) -> int | None:
    """An integer from JSON numbers, numeric strings (uint64 in wmic / older agents) or floats."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def to_bool(value: Any) -> bool | None:
    """A bool from JSON booleans, ``TRUE``/``FALSE`` (wmic), ``True``/``False`` or 0/1 (DWORD)."""
    if isinstance(value, bool):
        return value
    number = to_int(value)
    if number in (0, 1):
        return bool(number)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


_MS_DATE = re.compile(r"/Date\((-?\d+)(?:[+-]\d{4})?\)/")
_CIM_DATETIME = re.compile(r"(\d{8})([\d*]{6})?(?:\.[\d*]{6})?(?:([+-])(\d{3}|\*{3}))?")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_EARLIEST = datetime(1980, 1, 1, tzinfo=UTC)


def _parse_any_date(value: Any) -> datetime | None:
    """Aware for formats that carry a zone, naive for plain dates; None for unknown or null dates."""
    if isinstance(value, dict):  # PowerShell 5.1 DateTime with its ETS note: {"value": …, "DateTime": …}
        value = value.get("value")
    if not isinstance(value, str) or not (value := value.strip()):
        return None
    try:
        return _parse_date_text(value)
    except ValueError:  # digits in the right places, but no such day
        return None


def _parse_date_text(value: str) -> datetime | None:
    if match := _MS_DATE.fullmatch(value):  # milliseconds since the epoch, UTC whatever the offset
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match[1]))
    if match := _CIM_DATETIME.fullmatch(value):  # 20200221123221.000000-480 (offset in minutes)
        stamp, clock, sign, offset = match.groups()
        clock = clock if clock and "*" not in clock else "000000"
        parsed = datetime.strptime(stamp + clock, "%Y%m%d%H%M%S")
        if sign and offset and "*" not in offset:
            minutes = int(offset) * (-1 if sign == "-" else 1)
            parsed = parsed.replace(tzinfo=UTC) - timedelta(minutes=minutes)
        return parsed
    if match := _US_DATE.fullmatch(value):  # Win32_QuickFixEngineering.InstalledOn: M/D/YYYY
        month, day, year = (int(part) for part in match.groups())
        return datetime(year, month, day)
    return datetime.fromisoformat(value)


def _plausible(moment: datetime | None) -> datetime | None:
    """Drop the zero dates tools use for null (0001-01-01, 1601-01-01)."""
    if moment is None:
        return None
    return moment if moment.replace(tzinfo=moment.tzinfo or UTC) >= _EARLIEST else None


def parse_datetime(value: Any) -> datetime | None:
    """An instant in UTC from ``/Date(ms)/``, CIM_DATETIME, ISO 8601 or a plain date (taken as UTC)."""
    moment = _plausible(_parse_any_date(value))
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_date(value: Any) -> str | None:
    """An ISO date (``2020-09-09``): plain dates as written, instants by their UTC day."""
    moment = _plausible(_parse_any_date(value))
    if moment is None:
        return None
    day: date = (moment.astimezone(UTC) if moment.tzinfo else moment).date()
    return day.isoformat()

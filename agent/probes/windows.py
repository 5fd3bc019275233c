"""What the Windows probes share: one PowerShell run per inventory, registry reads, and pure helpers.

Collecting: a probe declares its CIM/cmdlet pipelines as data (``PIPELINES``, key → pipeline, and
``REQUIRED_PIPELINES``); the runner gathers those of every probe it runs into one :class:`Batch`,
which runs them all in ONE ``powershell.exe`` (its start costs about a second) with one output frame
per pipeline. :func:`powershell`, called by the probe's ``collect()``, returns each pipeline's
``ConvertTo-Json`` text under the key the probe chose, from the batch's frames (or from a run of
its own when no batch covers it); :func:`registry_values` and :func:`registry_subkeys` read the
registry with ``winreg`` and give the same shape as ``Get-ItemProperty … | ConvertTo-Json``, so
one parser serves both ways.
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
import secrets
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from typing import Any

from agent.probes.base import FailureKind, ProbeFailure, Raw, time_left
from agent.probes.base import load_json as load_json_text
from agent.processes import CHILDREN, Stopping

HKLM = "HKEY_LOCAL_MACHINE"
HKU = "HKEY_USERS"

# ---------------------------------------------------------------- collecting: PowerShell

# Every stream but output is silenced: by preference, and by redirecting warning (3), verbose (4),
# debug (5) and information (6, Write-Host) around each pipeline, so nothing but frames is printed.
_PRELUDE = (
    "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'; "
    "$WarningPreference = 'SilentlyContinue'; $InformationPreference = 'SilentlyContinue'; "
    "$VerbosePreference = 'SilentlyContinue'; $DebugPreference = 'SilentlyContinue'; "
    # Non-ASCII is escaped, so the console code page (cp866 on a Russian PC) cannot mangle names.
    "function Dozor-Ascii($s) { [regex]::Replace($s, '[^\\x00-\\x7F]', "
    "{ param($m) '\\u{0:x4}' -f [int][char]$m.Value }) }; "
    # One frame per pipeline, printed as soon as it is done: marker, number, o(utput) or e(rror), JSON.
    # @(…) makes ConvertTo-Json write an array even for one result or none; an error keeps the
    # locale-independent FullyQualifiedErrorId in front of the (localised) message.
    "function Dozor-Step($n, $label, [scriptblock]$block) { "
    "try { $kind = 'o'; $json = ConvertTo-Json -InputObject @(& $block 3>$null 4>$null 5>$null 6>$null) "
    "-Depth 4 -Compress } catch { $kind = 'e'; $json = ConvertTo-Json -Compress -InputObject "
    "([string]$_.FullyQualifiedErrorId + ': ' + $_.Exception.Message) }; "
    "Write-Output ('{marker} ' + $n + ' ' + $kind + ' ' + (Dozor-Ascii $json)) }"
)
_STEP = "Dozor-Step {number} '{label}' {{ {pipeline} }}"
_FRAME = re.compile(r"^(?P<marker>DOZOR-FRAME-[0-9a-f]{8}) (?P<number>\d+) (?P<kind>[oe]) (?P<json>.*)$")
COMMAND_LINE_LIMIT = 32_767
"""Characters a Windows command line may hold (CreateProcess)."""
TIMEOUT_SECONDS = 300.0
"""PowerShell's own limit outside a run; within a run the run's deadline rules."""
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


def oem_code_page() -> int | None:
    """The console (OEM) code page, in which PowerShell writes its errors: 866 on a Russian or
    Ukrainian PC, 437 on an American one. The thin boundary to ``GetOEMCP``; None off Windows."""
    if os.name != "nt":
        return None
    import ctypes

    return int(ctypes.windll.kernel32.GetOEMCP())  # type: ignore[attr-defined]


def decode_console(data: bytes, code_page: int | None = None) -> str:
    """Console output as text, in the OEM code page (UTF-8 where none is known or Python lacks it)."""
    encoding = f"cp{code_page}" if code_page else "utf-8"
    try:
        return data.decode(encoding, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def powershell_script(steps: Sequence[tuple[str, str]], marker: str) -> str:
    """The one script that runs every ``(label, pipeline)`` and prints one frame per pipeline, its
    number being the step's index; ``marker`` starts every frame line (nothing else printed can)."""
    parts = [_PRELUDE.replace("{marker}", marker)]
    for number, (label, pipeline) in enumerate(steps):
        if "'" in label:
            raise ValueError(f"a pipeline's label must not hold a single quote: {label!r}")
        parts.append(_STEP.format(number=number, label=label, pipeline=pipeline))
    script = "; ".join(parts)
    if '"' in script:
        # Double quotes would have to survive Windows command-line quoting; keep them out.
        raise ValueError("PowerShell pipelines must use single quotes only")
    return script


def powershell_command(script: str) -> list[str]:
    """How ``powershell.exe`` is started: no profile, no prompts, no execution policy in the way."""
    return [
        powershell_exe(),
        "-NoLogo",
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-Command",
        script,
    ]


Frame = tuple[str, str]
"""One pipeline's answer: (``"o"``, its ConvertTo-Json text) or (``"e"``, why it failed)."""


def read_frames(stdout: str, marker: str) -> dict[int, Frame]:
    """The frames in PowerShell's stdout by step number; any other line (a warning or progress text
    that leaked, a banner) is skipped."""
    frames: dict[int, Frame] = {}
    for line in stdout.splitlines():
        match = _FRAME.match(line.strip())
        if match is None or match["marker"] != marker:
            continue
        try:
            payload = json.loads(match["json"])
        except ValueError:
            continue  # a frame cut short by a kill
        if match["kind"] == "o":
            frames[int(match["number"])] = ("o", match["json"])
        else:
            frames[int(match["number"])] = ("e", str(payload))
    return frames


def run_script(
    steps: Sequence[tuple[str, str]], timeout: float
) -> tuple[dict[int, Frame], ProbeFailure | None]:
    """Run ``steps`` in one ``powershell.exe``: the frames it printed, and why the others are
    missing (None when every step has its frame). A timeout (the run's deadline included) kills its
    process tree and keeps the frames printed before."""
    marker = f"DOZOR-FRAME-{secrets.token_hex(4)}"
    args = powershell_command(powershell_script(steps, marker))
    if len(subprocess.list2cmdline(args)) > COMMAND_LINE_LIMIT:
        raise ProbeFailure("failed", f"the PowerShell command line is over {COMMAND_LINE_LIMIT} characters")
    code_page = oem_code_page()
    failure: ProbeFailure | None = None
    try:
        done = CHILDREN.run(args, time_left(timeout))
        stdout, stderr, returncode = done.stdout, done.stderr, done.returncode
    except Stopping as exc:
        return {}, ProbeFailure("failed", str(exc))
    except FileNotFoundError:
        return {}, ProbeFailure("missing_tool", f"{args[0]} is not installed")
    except PermissionError:
        return {}, ProbeFailure("permission", f"not allowed to run {args[0]}")
    except subprocess.TimeoutExpired as exc:
        stdout, stderr, returncode = exc.output or b"", exc.stderr or b"", None
        failure = ProbeFailure("timeout", f"PowerShell did not finish within {exc.timeout:g} s")
    frames = read_frames(decode_console(stdout, code_page), marker)
    if len(frames) < len(steps) and failure is None:
        lines = decode_console(stderr, code_page).strip().splitlines()
        if returncode:
            detail = lines[-1] if lines else "no error output"
            failure = ProbeFailure("failed", f"PowerShell exited with {returncode}: {detail[:300]}")
        else:
            shown = decode_console(stdout, code_page)[:200]
            failure = ProbeFailure("failed", f"PowerShell printed no result for every pipeline: {shown!r}")
    return frames, failure


class Batch:
    """Every pipeline the Windows probes of one run declared (``PIPELINES``), run in ONE
    ``powershell.exe`` (its start costs about a second; a probe each made 14 of them). A pipeline
    declared by several probes (Get-HotFix) runs once. :meth:`run` is started first; each probe's
    :func:`powershell` call then waits for its own frames."""

    def __init__(self, declared: Mapping[str, Mapping[str, str]]) -> None:
        """``declared``: owner (probe name) → key → pipeline, in the order they should run."""
        self._steps: list[tuple[str, str]] = []
        self._numbers: dict[str, int] = {}
        """Pipeline text → its step number."""
        for owner, pipelines in declared.items():
            for key, pipeline in pipelines.items():
                if pipeline not in self._numbers:
                    self._numbers[pipeline] = len(self._steps)
                    self._steps.append((f"{owner}/{key}", pipeline))
        self._done = threading.Event()
        self._frames: dict[int, Frame] = {}
        self._failure: ProbeFailure | None = None

    def __bool__(self) -> bool:
        return bool(self._steps)

    def covers(self, pipeline: str) -> bool:
        return pipeline in self._numbers

    def run(self, timeout: float = TIMEOUT_SECONDS) -> None:
        """Run the script (on the thread that calls this) and hand out its frames."""
        try:
            self._frames, self._failure = run_script(self._steps, timeout)
        except ProbeFailure as failure:
            self._failure = failure
        except Exception as exc:  # a bug here must cost the PowerShell probes only
            self._failure = ProbeFailure("failed", f"{type(exc).__name__}: {exc}")
        finally:
            self._done.set()

    def answers(self, pipelines: Mapping[str, str]) -> dict[str, Frame]:
        """key → frame of each of ``pipelines`` (all covered), once the run is over; raises the run's
        failure (``timeout`` when its deadline passed) if any of them has no frame."""
        if not self._done.wait(time_left(TIMEOUT_SECONDS)):
            raise ProbeFailure("timeout", "PowerShell did not finish before the run's deadline")
        found: dict[str, Frame] = {}
        for key, pipeline in pipelines.items():
            frame = self._frames.get(self._numbers[pipeline])
            if frame is None:
                raise self._failure or ProbeFailure("failed", f"PowerShell gave no frame for {key}")
            found[key] = frame
        return found


_BATCH: ContextVar[Batch | None] = ContextVar("dozor_powershell_batch", default=None)


@contextmanager
def batch(shared: Batch) -> Iterator[None]:
    """Within this block (and threads started with a copy of its context), :func:`powershell` takes
    the pipelines ``shared`` covers from its one run."""
    token = _BATCH.set(shared)
    try:
        yield
    finally:
        _BATCH.reset(token)


def powershell(
    pipelines: Mapping[str, str], *, required: tuple[str, ...] = (), timeout: float = TIMEOUT_SECONDS
) -> dict[str, str]:
    """The ConvertTo-Json text of each of ``pipelines`` (key → PowerShell pipeline): from the run's
    shared :class:`Batch` where it covers them, else from a ``powershell.exe`` of their own.

    A pipeline that failed is left out, so its fields parse as "not collected"; the probe fails as a
    whole when a ``required`` key failed or when nothing at all could be collected.
    """
    shared = _BATCH.get()
    frames: dict[str, Frame] = {}
    if shared is not None:
        frames = shared.answers({key: p for key, p in pipelines.items() if shared.covers(p)})
    alone = [(key, pipeline) for key, pipeline in pipelines.items() if key not in frames]
    if alone:
        numbered, failure = run_script(alone, timeout)
        if failure is not None and len(numbered) < len(alone):
            raise failure
        frames |= {key: numbered[number] for number, (key, _) in enumerate(alone)}
    out = {key: text for key, (kind, text) in frames.items() if kind == "o"}
    err = {key: text for key, (kind, text) in frames.items() if kind == "e"}
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

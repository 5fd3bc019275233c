"""What every probe module shares: the failure type and the guarded ways to touch the OS.

A probe module ``agent/probes/<section>/<name>_<platform>.py`` defines two functions:

* ``collect(...)`` — the only code that touches the OS (files, commands, registry, CIM). Its I/O
  roots are keyword arguments with real defaults (``root="/"``, ``proc="/proc"``, ``sys="/sys"``) so
  tests can point it at a fixture tree. It returns raw material (text, bytes, or plain dicts/lists).
* ``parse(raw)`` — pure: turns that raw material into ``dict[field name, value]`` for the probe's
  section of the report (see ``agent.probes.PROBES``). Tested on recorded outputs under
  ``tests/fixtures/``.

Problems are raised as :class:`ProbeFailure`; the runner records them in ``Report.probe_errors``
and the rest of the report goes on.

Every run (an inventory, a health sample) has one deadline, set by the runner with
:func:`deadline`: :func:`run_command` never lets a tool outlive it (the tool's timeout is cut to
the time left, and on expiry its whole process tree is killed), so no tool is left running after
the run has given up on its probe.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from agent.processes import CHILDREN, Stopping

FailureKind = Literal["timeout", "missing_tool", "permission", "unsupported", "failed"]

Raw = Mapping[str, str | bytes]
"""What ``collect()`` returns and ``parse()`` reads: raw material under file-like names."""


class ProbeFailure(Exception):
    """A probe could not produce its facts; ``kind`` says why in a word the collector can count."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message


_DEADLINE: ContextVar[float | None] = ContextVar("dozor_run_deadline", default=None)
"""``time.monotonic()`` by which the current run must be over; None outside a run."""


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Within this block (and the threads started with a copy of its context), tools end by ``at``."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left(timeout: float) -> float:
    """``timeout`` cut to what is left of the run's deadline; ProbeFailure ``timeout`` once it passed."""
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise ProbeFailure("timeout", "the run's deadline passed before this step could start")
    return min(timeout, left)


def run_command(args: list[str], timeout: float = 30.0, ok_codes: tuple[int, ...] = (0,)) -> str:
    """Run a tool (through :data:`agent.processes.CHILDREN`, so a stop ends it) and return its stdout;
    map the usual ways it fails to a ProbeFailure. The tool is killed at ``timeout`` or at the run's
    deadline, whichever comes first."""
    timeout = time_left(timeout)
    try:
        done = CHILDREN.run(args, timeout)
    except Stopping as exc:
        raise ProbeFailure("failed", str(exc)) from exc
    except FileNotFoundError as exc:
        raise ProbeFailure("missing_tool", f"{args[0]} is not installed") from exc
    except PermissionError as exc:
        raise ProbeFailure("permission", f"not allowed to run {args[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise ProbeFailure("timeout", f"{args[0]} did not finish within {timeout:g} s") from exc
    if done.returncode not in ok_codes:
        stderr = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = stderr[-1] if stderr else "no error output"
        raise ProbeFailure("failed", f"{args[0]} exited with {done.returncode}: {detail[:300]}")
    return done.stdout.decode("utf-8", "replace")


def read_text(path: str | Path, default: str | None = None) -> str | None:
    """Read a small OS file (sysfs, procfs); ``default`` when it is absent or unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError, OSError):
        return default


# ---------------------------------------------------------------- pure helpers for every platform

_PLACEHOLDERS = frozenset(
    {
        "to be filled by o.e.m.",
        "default string",
        "system serial number",
        "system product name",
        "system manufacturer",
        "not available",
        "not specified",
        "not applicable",
        "not provided",
        "none",
        "n/a",
        "unknown",
        "undefined",
        "oem",
        "o.e.m.",
        "invalid",
        "serial number",
        "123456789",
    }
)


def text(value: object, max_length: int = 1024) -> str | None:
    """A clean string for the report: trimmed, cut at a NUL, no lone surrogates, within the schema's
    length; None for empty values."""
    if value is None or isinstance(value, dict | list):
        return None
    cleaned = str(value).split("\x00", 1)[0].strip()
    cleaned = cleaned.encode("utf-8", "replace").decode("utf-8")
    return cleaned[:max_length] or None


def hw_text(value: object) -> str | None:
    """Like :func:`text` for firmware-reported identity (vendor, serial, part number): the BIOS,
    DMI and SPD placeholders (``To Be Filled By O.E.M.``, ``Unknown``, ``00000000``…) become None."""
    cleaned = text(value)
    if cleaned is None or cleaned.lower() in _PLACEHOLDERS or re.fullmatch(r"[0\s.-]+", cleaned):
        return None
    return cleaned


def load_json(raw: Raw, key: str) -> Any:
    """The JSON under ``key``; None when the key is absent (not collected)."""
    value = raw.get(key)
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ProbeFailure("failed", f"{key} is not JSON: {exc}") from exc


def epoch_utc(seconds: float | None) -> datetime | None:
    """A Unix time → aware UTC datetime; None for missing or implausible (before 2000) values."""
    if seconds is None or seconds < 946_684_800:
        return None
    return datetime.fromtimestamp(seconds, UTC)

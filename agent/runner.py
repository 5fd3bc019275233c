"""Runs the probes and builds the report's sections from what they return.

A run (an inventory, a health sample) has ONE deadline that every probe, every tool and the shared
PowerShell respect: tools are killed at it with their process trees (``agent.probes.base.deadline``)
and a probe without an answer by then is a ``timeout`` ProbeError. Probes run in a small pool of
daemon worker threads: a probe stuck in a system call cannot be killed, so a worker busy for long
gets a companion that takes on the queue, and nothing stuck can keep the agent from exiting.

On Windows the CIM/cmdlet pipelines every due probe declares (``PIPELINES``) run first, in one
``powershell.exe`` (:class:`agent.probes.windows.Batch`), while the other probes read the registry.

Probes with a ``cadence`` (expensive: the update search) run every ``<cadence>_interval``; in
between their last result, kept in the state directory (:class:`ProbeCache`), is reused as it was,
so the inventory hash does not change for it. Their results carry when they ran (``collected_at``).

Each field a probe returns is checked against the schema type of its section's field, so one bad
value costs that field only, never the report; nothing a probe does crashes the runner.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec

from agent.probes import HEALTH_PROBES, INVENTORY_PROBES, Probe, Section
from agent.probes import windows as powershell
from agent.probes.base import FailureKind, ProbeFailure, deadline
from agent.schema.report import Hardware, Health, Inventory, ProbeError, Security
from agent.state import write_atomic

log = logging.getLogger(__name__)

WORKERS = 4
STALL_SECONDS = 10.0
"""A probe busy this long (or a quarter of the run's time, if less) gets a companion worker, so the
probes queued behind it still run before the deadline."""
POWERSHELL_SHARE = 0.9
"""The shared PowerShell is killed at this share of the run's time, so the frames it printed still
reach their probes before the deadline (only those waiting on the rest time out)."""
_POLL_SECONDS = 0.05
CACHE_FILE = "probe-cache.json"
_MAX_MESSAGE = 8192

_SECTION_TYPES: dict[Section, type[msgspec.Struct]] = {
    "hardware": Hardware,
    "security": Security,
    "inventory": Inventory,
    "health": Health,
}
_BUILT_BY_RUNNER = {"hardware", "security"}
"""Inventory's own sections: no probe sets them, the runner builds them from their probes' fields."""
_SECTION_FIELDS: dict[Section, dict[str, msgspec.structs.FieldInfo]] = {
    section: {
        field.name: field
        for field in msgspec.structs.fields(struct)
        if not (struct is Inventory and field.name in _BUILT_BY_RUNNER)
    }
    for section, struct in _SECTION_TYPES.items()
}
"""The fields a probe may set, per section, with their schema types."""


def _error(probe: str, kind: FailureKind, message: str) -> ProbeError:
    return ProbeError(probe=probe, kind=kind, message=message.replace("\x00", "")[:_MAX_MESSAGE])


@dataclass(eq=False)
class _Job:
    probe: Probe
    module: ModuleType | None = None
    started: float | None = None
    """Set by the worker that picks the job up."""
    companion: bool = False
    """A companion worker has been started because this job runs long."""


Outcome = dict[str, Any] | ProbeError | None
"""A probe's fields, its error, or None where it does not apply on this platform."""


def _attempt(job: _Job) -> Outcome:
    probe = job.probe
    try:
        module = job.module or probe.load()
        if module is None:
            return None
        fields = module.parse(module.collect())
    except ProbeFailure as failure:
        return _error(probe.name, failure.kind, failure.message)
    except Exception as exc:  # a bug in a probe must cost that probe only
        return _error(probe.name, "failed", f"{type(exc).__name__}: {exc}")
    if not isinstance(fields, dict):
        return _error(probe.name, "failed", f"parse() returned {type(fields).__name__}, not a dict of fields")
    return fields


def _work(pending: queue.SimpleQueue[_Job], finished: queue.SimpleQueue[tuple[_Job, Outcome]]) -> None:
    while True:
        try:
            job = pending.get_nowait()
        except queue.Empty:
            return
        job.started = time.monotonic()
        finished.put((job, _attempt(job)))


def _load(job: _Job) -> None:
    """The probe's module, loaded up front to read what it declares; a failing import is left to
    :func:`_attempt`, which reports it as the probe's error."""
    try:
        job.module = job.probe.load()
    except Exception:
        job.module = None


def _shared_powershell(jobs: list[_Job]) -> powershell.Batch:
    """One PowerShell run for the pipelines every job's module declares; the expensive probes'
    (on a cadence) last, so a search that hangs costs only its own frames."""
    ordered = sorted(jobs, key=lambda job: job.probe.cadence is not None)
    return powershell.Batch(
        {job.probe.name: job.module.PIPELINES for job in ordered if hasattr(job.module, "PIPELINES")}
    )


def _run(probes: tuple[Probe, ...], timeout: float) -> list[tuple[Probe, Outcome]]:
    """Run every probe, ``WORKERS`` at a time (more where some run long); return when each has
    answered or the run's deadline (``timeout`` from now) has passed."""
    due = time.monotonic() + timeout
    jobs = [_Job(probe) for probe in probes]
    for job in jobs:
        _load(job)
    shared = _shared_powershell(jobs)
    pending: queue.SimpleQueue[_Job] = queue.SimpleQueue()
    finished: queue.SimpleQueue[tuple[_Job, Outcome]] = queue.SimpleQueue()
    for job in jobs:
        pending.put(job)
    with deadline(due), powershell.batch(shared):
        context = contextvars.copy_context()

    def start(target: Any, *args: Any) -> None:
        # Each thread runs in its own copy of the run's context: its deadline and its PowerShell batch.
        threading.Thread(
            target=context.copy().run, args=(target, *args), name="dozor-probe", daemon=True
        ).start()

    if shared:
        start(shared.run, timeout * POWERSHELL_SHARE)
    for _ in range(min(WORKERS, len(jobs))):
        start(_work, pending, finished)
    stall = min(STALL_SECONDS, timeout / 4)
    outcomes: dict[_Job, Outcome] = {}
    while len(outcomes) < len(jobs):
        now = time.monotonic()
        if now >= due:
            break
        try:
            job, outcome = finished.get(timeout=min(_POLL_SECONDS, due - now))
            outcomes.setdefault(job, outcome)
        except queue.Empty:
            pass
        now = time.monotonic()
        for job in jobs:
            running = job not in outcomes and job.started is not None and not job.companion
            if running and now - job.started > stall:  # type: ignore[operator]
                job.companion = True
                start(_work, pending, finished)
    for job in jobs:
        if job not in outcomes:  # answers after the deadline are ignored
            outcomes[job] = _error(job.probe.name, "timeout", f"no answer within the run's {timeout:g} s")
    return [(job.probe, outcomes[job]) for job in jobs]


def _validate(probe: Probe, fields: dict[str, Any], errors: list[ProbeError]) -> dict[str, Any]:
    """The fields that match the schema type of their section's field; an error for each other one."""
    known = _SECTION_FIELDS[probe.section]
    valid: dict[str, Any] = {}
    for name, value in fields.items():
        info = known.get(name)
        if info is None:
            errors.append(_error(probe.name, "failed", f"{name}: not a field of the {probe.section} section"))
            continue
        try:
            # Through builtins, so that constraints (lengths, ranges, patterns) are checked too.
            valid[name] = msgspec.convert(msgspec.to_builtins(value), info.type)
        except (msgspec.ValidationError, TypeError, ValueError) as exc:
            errors.append(_error(probe.name, "failed", f"{name}: {exc}"))
    return valid


class _Cached(msgspec.Struct):
    ran_at: datetime
    fields: dict[str, Any]
    """The probe's validated fields as builtins, exactly as they went into the report."""


class ProbeCache:
    """The last result of each probe on a cadence, in ``probe-cache.json`` of the state directory,
    so a restart does not rerun the update search at once."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / CACHE_FILE
        try:
            self._entries = msgspec.json.decode(self._path.read_bytes(), type=dict[str, _Cached])
        except FileNotFoundError:
            self._entries = {}
        except (OSError, msgspec.DecodeError) as exc:
            log.warning("probe cache %s is unreadable (%s); the expensive probes run again", self._path, exc)
            self._entries = {}

    def fresh(self, probe: Probe, interval: float, now: datetime) -> dict[str, Any] | None:
        """The probe's last fields if they are younger than ``interval`` seconds."""
        entry = self._entries.get(probe.name)
        if entry is None or not 0 <= (now - entry.ran_at).total_seconds() < interval:
            return None
        return entry.fields

    def keep(self, probe: Probe, ran_at: datetime, fields: dict[str, Any]) -> None:
        self._entries[probe.name] = _Cached(ran_at=ran_at, fields=msgspec.to_builtins(fields))
        try:
            write_atomic(self._path, msgspec.json.encode(self._entries))
        except OSError as exc:  # the result still goes into this report
            log.warning("probe cache %s not written (%s)", self._path, exc)


def _stamped(fields: dict[str, Any], ran_at: datetime) -> dict[str, Any]:
    """Each value that has a ``collected_at`` (``Updates``) gets the time its probe ran."""
    return {
        name: msgspec.structs.replace(value, collected_at=ran_at)
        if isinstance(value, msgspec.Struct) and getattr(value, "collected_at", False) is None
        else value
        for name, value in fields.items()
    }


def _collect(
    probes: tuple[Probe, ...],
    timeout: float,
    cache: ProbeCache | None = None,
    intervals: Mapping[str, float] | None = None,
) -> tuple[dict[Section, dict[str, Any]], list[ProbeError]]:
    """Section → validated fields of every probe that answered (or whose cached result is fresh),
    and the errors of the others."""
    sections: dict[Section, dict[str, Any]] = {section: {} for section in _SECTION_TYPES}
    errors: list[ProbeError] = []
    now = datetime.now(UTC).replace(microsecond=0)
    due: list[Probe] = []
    for probe in probes:
        interval = (intervals or {}).get(probe.cadence or "")
        reused = cache.fresh(probe, interval, now) if cache and interval else None
        if reused is None:
            due.append(probe)
        else:
            sections[probe.section].update(_validate(probe, reused, errors))
    for probe, outcome in _run(tuple(due), timeout):
        if isinstance(outcome, ProbeError):
            errors.append(outcome)
        elif outcome is not None:
            fields = _validate(probe, outcome, errors)
            if probe.cadence is not None:
                fields = _stamped(fields, now)
                if cache is not None:
                    cache.keep(probe, now, fields)
            sections[probe.section].update(fields)
    return sections, errors


def collect_inventory(
    probes: tuple[Probe, ...] = INVENTORY_PROBES,
    timeout: float = 120.0,
    *,
    cache: ProbeCache | None = None,
    intervals: Mapping[str, float] | None = None,
) -> tuple[Inventory, list[ProbeError]]:
    """The slow-changing facts; a field whose probe failed stays None (not collected). With a
    ``cache``, a probe on a cadence runs only when its result is older than ``intervals[cadence]``."""
    sections, errors = _collect(probes, timeout, cache, intervals)
    inventory = Inventory(
        hardware=Hardware(**sections["hardware"]),
        security=Security(**sections["security"]),
        **sections["inventory"],
    )
    return inventory, errors


def collect_health(
    probes: tuple[Probe, ...] = HEALTH_PROBES, timeout: float = 10.0
) -> tuple[Health | None, list[ProbeError]]:
    """The fast-changing state; None when its required fields (from health.system) are missing."""
    sections, errors = _collect(probes, timeout)
    fields = sections["health"]
    missing = [
        name for name, info in _SECTION_FIELDS["health"].items() if info.required and name not in fields
    ]
    if missing:
        errors.append(_error("health", "failed", f"no health section: missing {', '.join(missing)}"))
        return None, errors
    return Health(**fields), errors


def _canonical(value: Any) -> Any:
    """Builtins with every list sorted, so that the order probes list things in does not matter."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        items = [_canonical(item) for item in value]
        return sorted(items, key=lambda item: msgspec.json.encode(item, order="sorted"))
    return value


def inventory_hash(inv: Inventory) -> str:
    """sha256 (hex) of the inventory's canonical JSON: sorted keys and lists, defaults left out."""
    canonical = _canonical(msgspec.to_builtins(inv))
    return hashlib.sha256(msgspec.json.encode(canonical, order="sorted")).hexdigest()

"""Runs the probes and builds the report's sections from what they return.

Every probe runs in a small pool of worker threads with a timeout of its own. The workers are daemon
threads: a probe stuck in a system call cannot be killed, but it must neither hold up the report
nor keep the agent from exiting, so it is abandoned (a ``timeout`` ProbeError) and its worker is
replaced. Each field a probe returns is checked against the schema type of its section's field, so
one bad value costs that field only, never the report; nothing a probe does crashes the runner.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import msgspec

from agent.probes import HEALTH_PROBES, INVENTORY_PROBES, Probe, Section
from agent.probes.base import FailureKind, ProbeFailure
from agent.schema.report import Hardware, Health, Inventory, ProbeError, Security

WORKERS = 4
_POLL_SECONDS = 0.1
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
    started: float | None = None
    """Set by the worker that picks the job up; its timeout counts from then."""


Outcome = dict[str, Any] | ProbeError | None
"""A probe's fields, its error, or None where it does not apply on this platform."""


def _attempt(probe: Probe) -> Outcome:
    try:
        module = probe.load()
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
        finished.put((job, _attempt(job.probe)))


def _run(probes: tuple[Probe, ...], timeout: float) -> list[tuple[Probe, Outcome]]:
    """Run every probe, at most ``WORKERS`` at a time; return when each has answered or timed out."""
    jobs = [_Job(probe) for probe in probes]
    pending: queue.SimpleQueue[_Job] = queue.SimpleQueue()
    finished: queue.SimpleQueue[tuple[_Job, Outcome]] = queue.SimpleQueue()
    for job in jobs:
        pending.put(job)

    def start_worker() -> None:
        threading.Thread(target=_work, args=(pending, finished), name="dozor-probe", daemon=True).start()

    for _ in range(min(WORKERS, len(jobs))):
        start_worker()
    outcomes: dict[_Job, Outcome] = {}
    while len(outcomes) < len(jobs):
        try:
            job, outcome = finished.get(timeout=_POLL_SECONDS)
            outcomes.setdefault(job, outcome)  # an answer after the timeout is ignored
        except queue.Empty:
            pass
        now = time.monotonic()
        for job in jobs:
            if job not in outcomes and job.started is not None and now - job.started > timeout:
                outcomes[job] = _error(job.probe.name, "timeout", f"no answer within {timeout:g} s")
                start_worker()  # the stuck worker's replacement
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


def _collect(
    probes: tuple[Probe, ...], timeout: float
) -> tuple[dict[Section, dict[str, Any]], list[ProbeError]]:
    """Section → validated fields of every probe that answered, and the errors of the others."""
    sections: dict[Section, dict[str, Any]] = {section: {} for section in _SECTION_TYPES}
    errors: list[ProbeError] = []
    for probe, outcome in _run(probes, timeout):
        if isinstance(outcome, ProbeError):
            errors.append(outcome)
        elif outcome is not None:
            sections[probe.section].update(_validate(probe, outcome, errors))
    return sections, errors


def collect_inventory(
    probes: tuple[Probe, ...] = INVENTORY_PROBES, timeout: float = 60.0
) -> tuple[Inventory, list[ProbeError]]:
    """The slow-changing facts; a field whose probe failed stays None (not collected)."""
    sections, errors = _collect(probes, timeout)
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

"""Storing one agent report: sequence bookkeeping, health, the inventory diff and the software table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from agent.schema.report import Inventory, Report
from collector.inventory import AGENT_RULES, Change, diff_facts, reconcile
from collector.store.models import ChangeEvent, Device, InstalledSoftware

SOFTWARE_FIELDS = ("name", "version", "publisher", "source", "architecture", "install_date")
"""``SoftwarePackage`` fields, which are also the ``installed_software`` columns."""


_devices = Device.__table__
# Built once: the two statements every report runs skip the ORM and statement construction, which
# is most of the collector's CPU per health report.
_CLAIM = (
    update(_devices)
    .where(_devices.c.id == bindparam("device_id"), _devices.c.last_seq < bindparam("seq"))
    .values(reports_accepted=_devices.c.reports_accepted + 1)
    .returning(
        _devices.c.last_seq,
        _devices.c.seq_gaps,
        _devices.c.hostname,
        _devices.c.facts_hash,
        _devices.c.probe_errors,
        _devices.c.pending_approval,
        _devices.c.clone_conflict,
    )
)
_CLAIM_WITH_FACTS = _CLAIM.returning(_devices.c.facts)
"""For a report that carries an inventory: the old facts come back in the same round trip."""
_SET = update(_devices).where(_devices.c.id == bindparam("device_id"))
_software = InstalledSoftware.__table__
_OLD_KEYS = tuple(f"old_{name}" for name in SOFTWARE_FIELDS)
_DELETE_SOFTWARE = delete(_software).where(
    _software.c.device_id == bindparam("device_id"),
    *(
        _software.c[name].is_not_distinct_from(bindparam(key))
        for name, key in zip(SOFTWARE_FIELDS, _OLD_KEYS, strict=True)
    ),
)


@dataclass(frozen=True, slots=True)
class HostFlags:
    pending_approval: bool = False
    """The PC waits for an administrator's approval (``enrollment.require_approval``)."""
    clone_conflict: bool = False
    """Another live PC enrolled with the same machine id (imaged from one master)."""


NO_FLAGS = HostFlags()


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    status: Literal["accepted", "duplicate"]
    need_inventory: bool = False
    """The report named an inventory hash the store does not hold: ask for the full inventory."""
    changes: list[Change] = field(default_factory=list)
    """Change events recorded for this report."""
    gap: int = 0
    """Reports the agent numbered between the previous accepted one and this one, never received."""
    flags: HostFlags = field(default_factory=HostFlags)
    """What the store says of the PC beside its report (approval, clone conflict)."""


def apply_report(session: Session, device_id: int, report: Report, received_at: datetime) -> ApplyOutcome:
    """Store an authenticated agent's report, or recognise it as a replay. Does not commit.

    Acceptance is one conditional UPDATE (``last_seq < seq``) before anything is read: on
    PostgreSQL the second of two replicas holding the same report waits on the row lock, then
    matches no row; on SQLite the transaction takes the write lock first. That claim leaves
    ``last_seq`` alone, so its RETURNING gives the previous value (for the gap) under the lock, and
    one more UPDATE writes the rest: two statements for the usual health-only report.
    """
    connection = session.connection()
    claim = _CLAIM if report.inventory is None else _CLAIM_WITH_FACTS
    claimed = connection.execute(claim, {"device_id": device_id, "seq": report.seq}).one_or_none()
    if claimed is None:
        if session.scalar(select(Device.id).where(Device.id == device_id)) is None:
            raise NoResultFound(f"device {device_id} does not exist")
        return ApplyOutcome("duplicate")

    last_seq, seq_gaps, hostname, facts_hash, old_errors, pending, clone, *old_facts = claimed
    gap = report.seq - last_seq - 1 if last_seq > 0 else 0
    values: dict[str, Any] = {
        "last_seq": report.seq,
        "seq_gaps": seq_gaps + gap,
        "last_seen_at": received_at,
        "agent_version": report.agent_version,
        "schema_version": report.schema_version,
        "probe_errors": _probe_errors(old_errors, report),
    }
    changes: list[Change] = []
    if report.hostname != hostname:
        changes += diff_facts({"hostname": hostname}, {"hostname": report.hostname}, AGENT_RULES)
        values["hostname"] = report.hostname
    if report.health is not None:
        values["health"] = msgspec.to_builtins(report.health)
        values["health_at"] = min(_utc(report.collected_at), received_at)  # a PC clock may run ahead
    need_inventory = False
    if report.inventory is not None:
        changes += _apply_inventory(connection, device_id, old_facts[0], report.inventory, values)
        values.update(facts_hash=report.inventory_hash, facts_at=received_at)
    elif report.inventory_hash is not None:
        need_inventory = report.inventory_hash != facts_hash
    # The SET clause is the keys of ``values``: a handful of shapes, each compiled once and cached.
    connection.execute(_SET, {"device_id": device_id, **values})
    record_changes(session, device_id, "agent", received_at, changes)
    return ApplyOutcome("accepted", need_inventory, changes, gap, HostFlags(pending, clone))


def record_changes(
    session: Session, device_id: int, source: str, at: datetime, changes: Sequence[Change]
) -> None:
    """Append change events to the device's history (any source: agent, snmp, ssh, discovery)."""
    if changes:
        session.execute(
            insert(ChangeEvent),
            [
                {
                    "device_id": device_id,
                    "at": at,
                    "source": source,
                    "category": change.category,
                    "kind": change.kind,
                    "subject": change.subject,
                    "old_value": change.old,
                    "new_value": change.new,
                    "summary": change.summary,
                }
                for change in changes
            ],
        )


def _apply_inventory(
    connection: Connection,
    device_id: int,
    old: dict[str, Any] | None,
    inventory: Inventory,
    values: dict[str, Any],
) -> list[Change]:
    """Diff against the stored facts, sync the software rows; the new facts go into ``values``."""
    merged, changes = reconcile(old, msgspec.to_builtins(inventory), AGENT_RULES)
    old_software = (old or {}).get("software") or []
    new_software = merged.get("software") or []
    if new_software != old_software:
        sync_software(connection, device_id, old_software, new_software)
    if merged != old:
        values["facts"] = merged
    return changes


def sync_software(
    connection: Connection, device_id: int, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> None:
    """Bring the ``installed_software`` rows from ``old`` to ``new`` (the stored facts' lists, which
    the rows always mirror), touching only the packages that differ: no read of the rows, and an
    hourly inventory with a few updates costs a few deletes and inserts, not 300 of each."""
    before = Counter(_row(package) for package in old)
    after = Counter(_row(package) for package in new)
    deletes = [
        {
            "device_id": device_id,
            **{f"old_{name}": value for name, value in zip(SOFTWARE_FIELDS, row, strict=True)},
        }
        for row in before
        if before[row] != after[row]
    ]
    inserts = [
        {"device_id": device_id, **dict(zip(SOFTWARE_FIELDS, row, strict=True))}
        for row, count in after.items()
        if before[row] != count
        for _ in range(count)
    ]
    if deletes:
        connection.execute(_DELETE_SOFTWARE, deletes)
    if inserts:
        connection.execute(insert(_software), inserts)


def _row(package: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(package.get(name) for name in SOFTWARE_FIELDS)


def _probe_errors(old: list[dict[str, Any]] | None, report: Report) -> list[dict[str, Any]]:
    """The device's current probe errors: this report's, plus the earlier ones of the other kind
    of report (a minute's health report must not hide the hourly inventory's failed probes)."""
    carried = {"health"} if report.health is not None else set()
    if report.inventory is not None or report.inventory_hash is not None:
        carried.add("inventory")
    carried |= {_kind_of(error.probe) for error in report.probe_errors}
    kept = [error for error in old or () if _kind_of(error["probe"]) not in carried]
    return kept + msgspec.to_builtins(report.probe_errors)


def _kind_of(probe: str) -> str:
    return "health" if probe.split(".")[0] == "health" else "inventory"


def _utc(moment: datetime) -> datetime:
    """Report times are UTC; one sent without a zone is read as UTC rather than refused here."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

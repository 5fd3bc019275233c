"""Storing one agent report: sequence bookkeeping, health, the inventory diff and the software table."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from agent.schema.report import Inventory, Report
from collector.inventory import AGENT_RULES, Change, diff_facts, reconcile
from collector.store.models import ChangeEvent, Device, InstalledSoftware

SOFTWARE_FIELDS = ("name", "version", "publisher", "source", "architecture", "install_date")
"""``SoftwarePackage`` fields, which are also the ``installed_software`` columns."""
_SOFTWARE_COLUMNS = tuple(getattr(InstalledSoftware, name) for name in SOFTWARE_FIELDS)
_IDENTITY = tuple(SOFTWARE_FIELDS.index(name) for name in AGENT_RULES.lists["software"].key[0])
"""Positions of the fields the diff keys software by: a package whose other fields changed is the
same row, updated."""


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    status: Literal["accepted", "duplicate"]
    need_inventory: bool = False
    """The report named an inventory hash the store does not hold: ask for the full inventory."""
    changes: list[Change] = field(default_factory=list)
    """Change events recorded for this report."""
    gap: int = 0
    """Reports the agent numbered between the previous accepted one and this one, never received."""


def apply_report(session: Session, device_id: int, report: Report, received_at: datetime) -> ApplyOutcome:
    """Store an authenticated agent's report, or recognise it as a replay. Does not commit.

    Acceptance is one conditional UPDATE (``last_seq < seq``) before anything is read: on
    PostgreSQL the second of two replicas holding the same report waits on the row lock, then
    matches no row; on SQLite the transaction takes the write lock first. That claim leaves
    ``last_seq`` alone, so its RETURNING gives the previous value (for the gap) under the lock, and
    one more UPDATE writes the rest: two statements for the usual health-only report.
    """
    claimed = session.execute(
        update(Device)
        .where(Device.id == device_id, Device.last_seq < report.seq)
        .values(reports_accepted=Device.reports_accepted + 1)
        .returning(Device.last_seq, Device.hostname, Device.facts_hash)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    if claimed is None:
        if session.scalar(select(Device.id).where(Device.id == device_id)) is None:
            raise NoResultFound(f"device {device_id} does not exist")
        return ApplyOutcome("duplicate")

    last_seq, hostname, facts_hash = claimed
    gap = report.seq - last_seq - 1 if last_seq > 0 else 0
    values: dict[str, Any] = {
        "last_seq": report.seq,
        "seq_gaps": Device.seq_gaps + gap,
        "last_seen_at": received_at,
        "agent_version": report.agent_version,
        "probe_errors": msgspec.to_builtins(report.probe_errors),
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
        changes += _apply_inventory(session, device_id, report.inventory, values)
        values.update(facts_hash=report.inventory_hash, facts_at=received_at)
    elif report.inventory_hash is not None:
        need_inventory = report.inventory_hash != facts_hash
    session.execute(
        update(Device)
        .where(Device.id == device_id)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    record_changes(session, device_id, "agent", received_at, changes)
    return ApplyOutcome("accepted", need_inventory, changes, gap)


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
    session: Session, device_id: int, inventory: Inventory, values: dict[str, Any]
) -> list[Change]:
    """Diff against the stored facts, sync the software rows; the new facts go into ``values``."""
    old = session.scalar(select(Device.facts).where(Device.id == device_id))
    merged, changes = reconcile(old, msgspec.to_builtins(inventory), AGENT_RULES)
    if old is None or merged.get("software") != old.get("software"):
        sync_software(session, device_id, merged.get("software") or [])
    if merged != old:
        values["facts"] = merged
    return changes


def sync_software(session: Session, device_id: int, packages: list[dict[str, Any]]) -> None:
    """Make the device's ``installed_software`` rows equal ``packages`` touching only the rows that
    differ: an updated package is one UPDATE, not a DELETE and an INSERT of the whole list."""
    wanted = Counter(tuple(package.get(name) for name in SOFTWARE_FIELDS) for package in packages)
    stored: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for row_id, *values in session.execute(
        select(InstalledSoftware.id, *_SOFTWARE_COLUMNS).where(InstalledSoftware.device_id == device_id)
    ):
        stored[tuple(values)].append(row_id)

    stale: dict[tuple[Any, ...], list[int]] = defaultdict(list)  # by identity
    for values, row_ids in stored.items():
        stale[_identity(values)].extend(row_ids[wanted[values] :])
    updates, inserts = [], []
    for values, count in wanted.items():
        for _ in range(count - len(stored.get(values, ()))):
            row = dict(zip(SOFTWARE_FIELDS, values, strict=True))
            reusable = stale.get(_identity(values))
            if reusable:
                updates.append({"id": reusable.pop(), **row})
            else:
                inserts.append({"device_id": device_id, **row})
    deletes = [row_id for row_ids in stale.values() for row_id in row_ids]

    if updates:
        session.execute(update(InstalledSoftware), updates)
    if inserts:
        session.execute(insert(InstalledSoftware), inserts)
    if deletes:
        session.execute(delete(InstalledSoftware).where(InstalledSoftware.id.in_(deletes)))


def _identity(values: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(values[index] for index in _IDENTITY)


def _utc(moment: datetime) -> datetime:
    """Report times are UTC; one sent without a zone is read as UTC rather than refused here."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

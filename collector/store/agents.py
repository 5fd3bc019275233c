"""Agent identities: enrollment, bearer tokens (only their SHA-256 is stored), revocation."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from collector.inventory import Change
from collector.store.models import AgentToken, Device, LifecycleAction
from collector.store.reports import record_changes

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TokenOwner:
    device_id: int
    machine_id: str
    revoked: bool


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


CLONE_SEPARATOR = "/"
"""A cloned PC's device keeps ``<machine id>/<hardware uuid>`` as its key; reports still carry the
machine id alone (it is the OS's)."""


def enroll_agent(
    session: Session,
    machine_id: str,
    hostname: str,
    now: datetime,
    pending_approval: bool = False,
    hardware_uuid: str | None = None,
    live_since: datetime | None = None,
) -> tuple[int, str]:
    """Create the PC's device on first enrollment and issue a new token; returns (device id, token).

    Enrolling again (agent reinstalled, token lost or revoked) keeps the device and its history but
    restarts sequence checking: a fresh agent numbers its reports from 1 again, and those must not be
    taken for replays. Earlier tokens stay as they are (revoke them to lock an old copy out).
    ``pending_approval`` applies to a new device only: a known PC keeps its approval.

    PCs imaged from one master share their machine id; the SMBIOS ``hardware_uuid`` tells them apart.
    Another UUID under a known machine id is a clone when that device reported since ``live_since``
    (two live PCs): it gets a device of its own and both get a change event. A device silent since
    then had its board replaced: it keeps its history and takes the new UUID.
    """
    device_id = _clone_or_replacement(
        session, machine_id, hostname, now, hardware_uuid, live_since, pending_approval
    )
    if device_id is None:
        device_id = _enroll_by_machine_id(session, machine_id, hostname, now, pending_approval)
        if hardware_uuid is not None:
            session.execute(
                update(Device)
                .where(Device.id == device_id, Device.hardware_uuid.is_(None))
                .values(hardware_uuid=hardware_uuid)
                .execution_options(synchronize_session=False)
            )
    token = secrets.token_urlsafe(32)
    session.add(AgentToken(device_id=device_id, token_sha256=token_digest(token), created_at=now))
    session.flush()
    return device_id, token


def _enroll_by_machine_id(
    session: Session, machine_id: str, hostname: str, now: datetime, pending_approval: bool
) -> int:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    # Insert-or-keep in one statement: two replicas enrolling the same PC at once cannot collide,
    # and the write comes first so SQLite takes its write lock before reading.
    session.execute(
        insert(Device)
        .values(
            kind="pc",
            machine_id=machine_id,
            hostname=hostname,
            first_seen_at=now,
            last_seen_at=now,
            pending_approval=pending_approval,
        )
        .on_conflict_do_nothing(index_elements=[Device.machine_id])
    )
    return session.execute(
        update(Device)
        .where(Device.machine_id == machine_id)
        .values(last_seq=0)
        .returning(Device.id)
        .execution_options(synchronize_session=False)
    ).scalar_one()


def _clone_or_replacement(
    session: Session,
    machine_id: str,
    hostname: str,
    now: datetime,
    hardware_uuid: str | None,
    live_since: datetime | None,
    pending_approval: bool,
) -> int | None:
    """The device to enroll when ``hardware_uuid`` is not the one the machine id's device has (the
    clone's own, or the same device with its board replaced); None for the ordinary case (first
    enrollment, the same PC, or no UUID to compare)."""
    if hardware_uuid is None:
        return None
    clone_key = f"{machine_id}{CLONE_SEPARATOR}{hardware_uuid}"
    known = session.scalars(
        select(Device).where(Device.machine_id.in_((machine_id, clone_key))).with_for_update()
    ).all()
    by_key = {device.machine_id: device for device in known}
    if clone_key in by_key:  # a clone enrolling again
        clone = by_key[clone_key]
        clone.last_seq = 0
        return clone.id
    original = by_key.get(machine_id)
    if original is None or original.hardware_uuid in (None, hardware_uuid):
        return None
    if live_since is None or original.last_seen_at < live_since:
        record_changes(
            session, original.id, "agent", now, [_uuid_change(original.hardware_uuid, hardware_uuid)]
        )
        original.hardware_uuid = hardware_uuid
        original.last_seq = 0
        return original.id
    clone = Device(
        kind="pc",
        machine_id=clone_key,
        hostname=hostname,
        first_seen_at=now,
        last_seen_at=now,
        pending_approval=pending_approval,
        hardware_uuid=hardware_uuid,
        clone_of=original.id,
        clone_conflict=True,
    )
    original.clone_conflict = True
    session.add(clone)
    session.flush()
    for device, other in ((original, clone), (clone, original)):
        record_changes(session, device.id, "agent", now, [_clone_change(other)])
    log.warning(
        "PC %s enrolled with the machine id of live host %d (%s): a clone, enrolled as host %d",
        hostname,
        original.id,
        original.hostname,
        clone.id,
    )
    return clone.id


def _uuid_change(old: str | None, new: str) -> Change:
    return Change(
        "hardware",
        "changed",
        "hardware_uuid",
        old,
        {"hardware_uuid": new, "summary_uk": f"Змінено системну плату (SMBIOS UUID {old} → {new})"},
        f"System board replaced (SMBIOS UUID {old} -> {new})",
    )


def _clone_change(other: Device) -> Change:
    return Change(
        "security",
        "added",
        "clone_conflict",
        None,
        {
            "other_device_id": other.id,
            "other_hostname": other.hostname,
            "summary_uk": f"Клон: ПК {other.hostname} (вузол {other.id}) має той самий ідентифікатор машини",
        },
        f"Clone conflict: PC {other.hostname} (host {other.id}) has the same machine id",
    )


def reported_machine_id(device_key: str) -> str:
    """The machine id a device's agent puts in its reports (a clone's key carries its UUID too)."""
    return device_key.split(CLONE_SEPARATOR, 1)[0]


def find_token(session: Session, token: str) -> TokenOwner | None:
    row = session.execute(
        select(AgentToken.device_id, Device.machine_id, AgentToken.revoked_at)
        .join(Device)
        .where(AgentToken.token_sha256 == token_digest(token))
    ).one_or_none()
    if row is None or row.machine_id is None:
        return None
    return TokenOwner(
        device_id=row.device_id,
        machine_id=reported_machine_id(row.machine_id),
        revoked=row.revoked_at is not None,
    )


def revoke_tokens(session: Session, device_id: int, now: datetime) -> int:
    """Revoke every live token of the device; returns how many were revoked."""
    result = session.execute(
        update(AgentToken)
        .where(AgentToken.device_id == device_id, AgentToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


class NotPending(Exception):
    """The host is not waiting for approval (approved already, or never needed it)."""


def approve_agent(session: Session, device_id: int, by: str, at: datetime) -> bool:
    """Approve a PC that enrolled under ``enrollment.require_approval``: clear the flag and record
    who did it and when (a lifecycle action and a change event). False if there is no such PC;
    NotPending if it was not waiting. Does not commit."""
    device = session.scalars(
        select(Device).where(Device.id == device_id, Device.machine_id.is_not(None)).with_for_update()
    ).one_or_none()
    if device is None:
        return False
    if not device.pending_approval:
        raise NotPending(f"host {device_id} is not waiting for approval")
    device.pending_approval = False
    session.add(LifecycleAction(device_id=device_id, action="approve", at=at, by=by))
    change = Change(
        "system",
        "changed",
        "enrollment",
        {"pending_approval": True},
        {"pending_approval": False, "by": by, "summary_uk": f"Підключення ПК схвалено ({by})"},
        f"Enrollment approved by {by}",
    )
    record_changes(session, device_id, "admin", at, [change])
    session.flush()
    return True

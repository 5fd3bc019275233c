"""Agent identities: enrollment, bearer tokens (only their SHA-256 is stored), revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from collector.inventory import Change
from collector.store.models import AgentToken, Device, LifecycleAction
from collector.store.reports import record_changes


@dataclass(frozen=True, slots=True)
class TokenOwner:
    device_id: int
    machine_id: str
    revoked: bool


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def enroll_agent(
    session: Session, machine_id: str, hostname: str, now: datetime, pending_approval: bool = False
) -> tuple[int, str]:
    """Create the PC's device on first enrollment and issue a new token; returns (device id, token).

    Enrolling again (agent reinstalled, token lost or revoked) keeps the device and its history but
    restarts sequence checking: a fresh agent numbers its reports from 1 again, and those must not be
    taken for replays. Earlier tokens stay as they are (revoke them to lock an old copy out).
    ``pending_approval`` applies to a new device only: a known PC keeps its approval.
    """
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
    device_id = session.execute(
        update(Device)
        .where(Device.machine_id == machine_id)
        .values(last_seq=0)
        .returning(Device.id)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    token = secrets.token_urlsafe(32)
    session.add(AgentToken(device_id=device_id, token_sha256=token_digest(token), created_at=now))
    session.flush()
    return device_id, token


def find_token(session: Session, token: str) -> TokenOwner | None:
    row = session.execute(
        select(AgentToken.device_id, Device.machine_id, AgentToken.revoked_at)
        .join(Device)
        .where(AgentToken.token_sha256 == token_digest(token))
    ).one_or_none()
    if row is None or row.machine_id is None:
        return None
    return TokenOwner(device_id=row.device_id, machine_id=row.machine_id, revoked=row.revoked_at is not None)


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

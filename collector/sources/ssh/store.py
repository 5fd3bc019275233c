"""A device's SSH side in the store: running-config versions, the host key trusted on first use (and
a changed one awaiting acceptance), the last backup's outcome, and CLI facts merged into the
device's facts through the one diff path. Functions take a session and do not commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from collector.inventory import CLI_RULES, Change, reconcile
from collector.sources.ssh.config_text import config_diff, config_digest
from collector.sources.ssh.session import host_key_fingerprint
from collector.store.devices import facts_hash
from collector.store.models import ConfigVersion, Device, SshState
from collector.store.reports import record_changes

SUMMARY_LINES = 8
"""Changed lines quoted (masked) in a config change event's summary; the full diff is in the API."""


class NothingToAccept(Exception):
    """No different host key awaits acceptance for the device."""


class FingerprintMismatch(Exception):
    """The key the administrator meant to accept is not the one the device presented."""


class SshStatus(msgspec.Struct, kw_only=True):
    """What the store knows of a device's SSH side (fingerprints only; keys are public anyway)."""

    device_id: int
    host_key_fingerprint: str | None
    """The trusted key (``SHA256:…``); None until the first session."""
    host_key_recorded_at: datetime | None
    pending_host_key_fingerprint: str | None
    """A different key the device presented; backups stop until an administrator accepts it."""
    pending_host_key_seen_at: datetime | None
    last_success_at: datetime | None
    last_error_kind: str | None
    last_error_message: str | None
    last_error_at: datetime | None
    versions: int
    last_version_at: datetime | None
    last_change_at: datetime | None
    """When the running config last changed (the newest version that has a predecessor)."""


class ConfigVersionSummary(msgspec.Struct, kw_only=True):
    id: int
    at: datetime
    digest: str
    """sha256 hex of the normalised text."""
    size_bytes: int


class ConfigVersionText(ConfigVersionSummary, kw_only=True):
    platform: str
    text: str
    """As stored: unmasked. Mask it (``collector.sources.ssh.mask_secrets``) before showing it."""


class BackupStored(msgspec.Struct, kw_only=True):
    version_id: int
    """The newest version after this backup (the new one, or the unchanged one)."""
    new_version: bool
    config_changed: bool
    """A new version that replaces an earlier one (the first version is no change)."""
    changes: list[Change]


def _state(session: Session, device_id: int) -> SshState:
    """The device's row, locked for this transaction; created on first use (a racing creator's
    insert is undone by a savepoint and the winner's row taken)."""
    query = select(SshState).where(SshState.device_id == device_id).with_for_update()
    state = session.scalar(query)
    if state is None:
        try:
            with session.begin_nested():
                state = SshState(device_id=device_id)
                session.add(state)
        except IntegrityError:
            state = session.scalars(query).one()
    return state


def _fingerprint(key: str | None) -> str | None:
    return None if key is None else host_key_fingerprint(key)


def ssh_status(session: Session, device_id: int) -> SshStatus:
    state = session.get(SshState, device_id) or SshState(device_id=device_id)
    count, newest = session.execute(
        select(func.count(ConfigVersion.id), func.max(ConfigVersion.at)).where(
            ConfigVersion.device_id == device_id
        )
    ).one()
    return SshStatus(
        device_id=device_id,
        host_key_fingerprint=_fingerprint(state.host_key),
        host_key_recorded_at=state.host_key_at,
        pending_host_key_fingerprint=_fingerprint(state.pending_host_key),
        pending_host_key_seen_at=state.pending_host_key_at,
        last_success_at=state.last_success_at,
        last_error_kind=state.last_error_kind,
        last_error_message=state.last_error_message,
        last_error_at=state.last_error_at,
        versions=count,
        last_version_at=newest,
        last_change_at=newest if count > 1 else None,
    )


def trusted_host_key(session: Session, device_id: int) -> str | None:
    """The key a session must see (None: trust the first one)."""
    state = session.get(SshState, device_id)
    return None if state is None else state.host_key


def record_backup(
    session: Session, device_id: int, *, platform: str, text: str, host_key: str, at: datetime
) -> BackupStored:
    """A successful session: the normalised running config ``text`` becomes a new version when its
    digest differs from the newest one (a change event with a masked summary when it replaces one);
    the host key is recorded on first use; the error state is cleared."""
    state = _state(session, device_id)
    changes: list[Change] = []
    fingerprint = host_key_fingerprint(host_key)
    if state.host_key is None:
        state.host_key, state.host_key_at = host_key, at
        changes.append(
            Change(
                "security",
                "added",
                "ssh.host_key",
                None,
                fingerprint,
                f"SSH host key recorded: {fingerprint}",
            )
        )
    if state.pending_host_key is not None:
        changes.append(
            Change(
                "security",
                "changed",
                "ssh.host_key",
                _fingerprint(state.pending_host_key),
                fingerprint,
                f"SSH host key is the recorded one again: {fingerprint}",
            )
        )
        state.pending_host_key = state.pending_host_key_at = None
    newest = session.scalars(
        select(ConfigVersion)
        .where(ConfigVersion.device_id == device_id)
        .order_by(ConfigVersion.id.desc())
        .limit(1)
    ).one_or_none()
    digest = config_digest(text)
    version_id = newest.id if newest is not None else 0
    created = newest is None or newest.digest != digest
    if created:
        version = ConfigVersion(
            device_id=device_id,
            at=at,
            platform=platform,
            digest=digest,
            size_bytes=len(text.encode()),
            text=text,
        )
        session.add(version)
        session.flush()
        version_id = version.id
        if newest is not None:
            changes.append(_config_change(newest, version))
    state.last_success_at = at
    state.last_error_kind = state.last_error_message = state.last_error_at = None
    record_changes(session, device_id, "ssh", at, changes)
    return BackupStored(
        version_id=version_id,
        new_version=created,
        config_changed=created and newest is not None,
        changes=changes,
    )


def _config_change(old: ConfigVersion, new: ConfigVersion) -> Change:
    """The event of a config change: which version replaced which, and the changed lines masked."""
    diff = config_diff(old.text, new.text, platform_name=new.platform).splitlines()
    changed = [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    added = sum(line.startswith("+") for line in changed)
    quoted = "; ".join(line.strip() for line in changed[:SUMMARY_LINES])
    more = f"; … {len(changed) - SUMMARY_LINES} more" if len(changed) > SUMMARY_LINES else ""
    return Change(
        "system",
        "changed",
        "config",
        {"version": old.id, "digest": old.digest},
        {"version": new.id, "digest": new.digest},
        f"Running configuration changed (+{added} −{len(changed) - added} lines): {quoted}{more}",
    )


def record_backup_failure(
    session: Session,
    device_id: int,
    *,
    kind: str,
    message: str,
    at: datetime,
    seen_host_key: str | None = None,
) -> list[Change]:
    """A failed session: its named error is kept (versions and facts stay as they are). A host key
    other than the trusted one is kept pending (an event the first time it is seen)."""
    state = _state(session, device_id)
    state.last_error_kind, state.last_error_message, state.last_error_at = kind, message, at
    changes: list[Change] = []
    if seen_host_key is not None and seen_host_key != state.pending_host_key:
        old, new = _fingerprint(state.host_key), host_key_fingerprint(seen_host_key)
        state.pending_host_key, state.pending_host_key_at = seen_host_key, at
        changes.append(
            Change(
                "security",
                "changed",
                "ssh.host_key",
                old,
                new,
                f"SSH host key changed: {old} → {new}; backups stop until an administrator accepts it",
            )
        )
        record_changes(session, device_id, "ssh", at, changes)
    return changes


def accept_host_key(
    session: Session, device_id: int, *, by: str, at: datetime, fingerprint: str | None = None
) -> Change:
    """An administrator trusts the key the device now presents; recorded as an ``admin`` event
    naming who did it. ``fingerprint``: the key they checked, refused if it is not the pending one."""
    state = _state(session, device_id)
    if state.pending_host_key is None:
        raise NothingToAccept(f"device {device_id} presents no new SSH host key")
    new = host_key_fingerprint(state.pending_host_key)
    if fingerprint is not None and fingerprint != new:
        raise FingerprintMismatch(f"the device presented {new}, not {fingerprint}")
    old = _fingerprint(state.host_key)
    state.host_key, state.host_key_at = state.pending_host_key, at
    state.pending_host_key = state.pending_host_key_at = None
    change = Change(
        "security", "changed", "ssh.host_key", old, new, f"SSH host key {new} accepted by {by} (was {old})"
    )
    record_changes(session, device_id, "admin", at, [change])
    return change


def list_config_versions(session: Session, device_id: int) -> list[ConfigVersionSummary]:
    """The device's config history, newest first, without the texts."""
    rows = session.execute(
        select(ConfigVersion.id, ConfigVersion.at, ConfigVersion.digest, ConfigVersion.size_bytes)
        .where(ConfigVersion.device_id == device_id)
        .order_by(ConfigVersion.id.desc())
    )
    return [ConfigVersionSummary(id=r[0], at=r[1], digest=r[2], size_bytes=r[3]) for r in rows]


def get_config_version(session: Session, device_id: int, version_id: int | None) -> ConfigVersionText | None:
    """One version of the device's config (``None``: the newest), or None if there is none such."""
    query = select(ConfigVersion).where(ConfigVersion.device_id == device_id)
    if version_id is None:
        query = query.order_by(ConfigVersion.id.desc()).limit(1)
    else:
        query = query.where(ConfigVersion.id == version_id)
    row = session.scalars(query).one_or_none()
    if row is None:
        return None
    return ConfigVersionText(
        id=row.id,
        at=row.at,
        digest=row.digest,
        size_bytes=row.size_bytes,
        platform=row.platform,
        text=row.text,
    )


def previous_version_id(session: Session, device_id: int, version_id: int) -> int | None:
    """The version stored just before ``version_id`` (what a diff compares it with by default)."""
    return session.scalar(
        select(ConfigVersion.id)
        .where(ConfigVersion.device_id == device_id, ConfigVersion.id < version_id)
        .order_by(ConfigVersion.id.desc())
        .limit(1)
    )


def apply_cli_facts(session: Session, device_id: int, cli: dict[str, Any], at: datetime) -> list[Change]:
    """Merge CLI facts (``version``, ``mac_table``, ``arp``, ``interfaces``, ``neighbors``; a section
    left out was not read) into the device's facts under ``cli``, through the one diff path."""
    device = session.scalars(select(Device).where(Device.id == device_id).with_for_update()).one()
    merged, changes = reconcile(device.facts, {"cli": cli}, CLI_RULES)
    hostname = ((merged.get("cli") or {}).get("version") or {}).get("hostname")
    if hostname and device.hostname == device.address:
        device.hostname = hostname
    if merged != device.facts:
        device.facts = merged
        device.facts_hash = facts_hash(merged)
    device.facts_at = at
    device.last_seen_at = max(device.last_seen_at, at)
    session.flush()
    record_changes(session, device_id, "ssh", at, changes)
    return changes

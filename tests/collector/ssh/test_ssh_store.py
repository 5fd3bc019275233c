"""SSH backups in the store, on SQLite and PostgreSQL: versions only when the normalised config
changed, masked change summaries, host keys trusted on first use and a changed one accepted only
explicitly, CLI facts merged into the same device row as SNMP's through the one diff path."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paramiko
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector.sources.snmp.store import apply_poll
from collector.sources.ssh import store
from collector.sources.ssh.config_text import normalize_config
from collector.sources.ssh.schedule import cli_facts
from collector.sources.ssh.session import CliResult, host_key_fingerprint
from collector.store.devices import ensure_device
from collector.store.models import ChangeEvent, Device
from tests.collector.ssh.conftest import device_config, device_replies

T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def new_key() -> str:
    key = paramiko.ECDSAKey.generate()
    return f"{key.get_name()} {key.get_base64()}"


def events(session: Session, device_id: int) -> list[ChangeEvent]:
    return list(
        session.scalars(
            select(ChangeEvent).where(ChangeEvent.device_id == device_id).order_by(ChangeEvent.id)
        )
    )


def cisco_text(config: str | None = None) -> str:
    return normalize_config("cisco_ios", config or device_config("cisco_ios"))


def test_versions_only_on_real_changes(sessions: sessionmaker[Session]) -> None:
    key = new_key()
    with sessions.begin() as session:
        device_id = ensure_device(session, "10.0.0.9", "switch", "core", T0)
        first = store.record_backup(
            session, device_id, platform="cisco_ios", text=cisco_text(), host_key=key, at=T0
        )
        assert first.new_version and not first.config_changed
        assert [(c.subject, c.kind) for c in first.changes] == [("ssh.host_key", "added")]
    timestamp_only = device_config("cisco_ios").replace("14:02:11 EET Mon Mar 3", "23:59:59 EET Sun Mar 9")
    with sessions.begin() as session:
        same = store.record_backup(
            session,
            device_id,
            platform="cisco_ios",
            text=cisco_text(timestamp_only),
            host_key=key,
            at=T0 + timedelta(hours=1),
        )
        assert not same.new_version and same.version_id == first.version_id and same.changes == []
    changed_config = (
        device_config("cisco_ios").replace("RadaRO2024", "Secret-New-99").replace("PC-101", "PC-7")
    )
    with sessions.begin() as session:
        changed = store.record_backup(
            session,
            device_id,
            platform="cisco_ios",
            text=cisco_text(changed_config),
            host_key=key,
            at=T0 + timedelta(hours=2),
        )
        assert changed.config_changed and changed.version_id != first.version_id
        (event,) = changed.changes
        assert event.subject == "config" and event.old["version"] == first.version_id
        assert "PC-7" in event.summary and "<masked>" in event.summary
        assert "Secret-New-99" not in event.summary and "RadaRO2024" not in event.summary
    with sessions() as session:
        versions = store.list_config_versions(session, device_id)
        assert [v.id for v in versions] == [changed.version_id, first.version_id]
        assert versions[0].size_bytes == len(cisco_text(changed_config).encode())
        newest = store.get_config_version(session, device_id, None)
        assert newest is not None and "Secret-New-99" in newest.text, "stored as the device printed it"
        assert store.previous_version_id(session, device_id, changed.version_id) == first.version_id
        assert store.get_config_version(session, device_id + 1, first.version_id) is None
        status = store.ssh_status(session, device_id)
        assert (status.versions, status.last_change_at, status.host_key_fingerprint) == (
            2,
            T0 + timedelta(hours=2),
            host_key_fingerprint(key),
        )
        assert [e.source for e in events(session, device_id)] == ["ssh", "ssh"]


def test_changed_host_key_is_pending_until_accepted(sessions: sessionmaker[Session]) -> None:
    trusted, impostor = new_key(), new_key()
    with sessions.begin() as session:
        device_id = ensure_device(session, "10.0.0.10", "switch", None, T0)
        store.record_backup(
            session, device_id, platform="cisco_ios", text=cisco_text(), host_key=trusted, at=T0
        )
    for attempt in range(2):
        with sessions.begin() as session:
            changes = store.record_backup_failure(
                session,
                device_id,
                kind="host_key_changed",
                message="presented another key",
                at=T0 + timedelta(minutes=attempt + 1),
                seen_host_key=impostor,
            )
            assert len(changes) == (1 if attempt == 0 else 0), "one event per new key, not per attempt"
    with sessions() as session:
        status = store.ssh_status(session, device_id)
        assert status.pending_host_key_fingerprint == host_key_fingerprint(impostor)
        assert status.host_key_fingerprint == host_key_fingerprint(trusted)
        assert status.last_error_kind == "host_key_changed" and status.last_success_at == T0
        assert store.trusted_host_key(session, device_id) == trusted
    with pytest.raises(store.FingerprintMismatch), sessions.begin() as session:
        store.accept_host_key(session, device_id, by="ivan", at=T0, fingerprint=host_key_fingerprint(trusted))
    with sessions.begin() as session:
        change = store.accept_host_key(
            session,
            device_id,
            by="ivan",
            at=T0 + timedelta(hours=1),
            fingerprint=host_key_fingerprint(impostor),
        )
        assert "accepted by ivan" in change.summary
    with pytest.raises(store.NothingToAccept), sessions.begin() as session:
        store.accept_host_key(session, device_id, by="ivan", at=T0)
    with sessions() as session:
        assert store.trusted_host_key(session, device_id) == impostor
        assert store.ssh_status(session, device_id).pending_host_key_fingerprint is None
        assert [e.source for e in events(session, device_id)] == ["ssh", "ssh", "admin"]


def cisco_result() -> CliResult:
    """A session's outputs as the simulator replays them (our fixtures and the shared recordings)."""
    return CliResult(
        platform="cisco_ios",
        host_key=new_key(),
        config=device_config("cisco_ios"),
        outputs=device_replies("cisco_ios"),
        fact_errors={},
        seconds=0.1,
    )


def test_cli_facts_join_the_snmp_device_and_tables_are_not_history(
    sessions: sessionmaker[Session], shared_testdata: Path
) -> None:
    """Needs ../shared: the Cisco MAC/ARP outputs are the real recordings."""
    cli, errors = cli_facts("cisco_ios", cisco_result())
    assert not errors and cli["mac_table"], errors
    snmp = {
        "system": {"name": "sw-core", "descr": "Cisco IOS"},
        "interfaces": [{"name": "Gi0/1", "mac": None}],
    }
    with sessions.begin() as session:
        outcome = apply_poll(session, "10.0.0.11", "switch", None, snmp, T0)
        same_row = ensure_device(session, "10.0.0.11", "switch", None, T0)
        assert same_row == outcome.device_id
        assert store.apply_cli_facts(session, same_row, cli, T0 + timedelta(minutes=1)) == []
        device = session.get_one(Device, same_row)
        assert device.facts is not None and device.facts["system"] == snmp["system"], "SNMP facts kept"
        assert device.facts["cli"] == cli
    moved = copy.deepcopy(cli)
    moved["mac_table"] = moved["mac_table"][1:]
    moved["arp"] = moved["arp"][1:]
    moved["version"]["serial"] = "NEW-SERIAL-1"
    with sessions.begin() as session:
        changes = store.apply_cli_facts(session, same_row, moved, T0 + timedelta(minutes=2))
    subjects = [c.subject for c in changes]
    assert not any("mac_table" in s or "arp" in s for s in subjects), subjects
    assert subjects == ["cli.version.serial"], "the serial moved; the tables' rows are state"
    with sessions.begin() as session:
        store.apply_cli_facts(session, same_row, {"version": moved["version"]}, T0 + timedelta(minutes=3))
        kept = session.get_one(Device, same_row).facts
        assert kept is not None and kept["cli"]["mac_table"] == moved["mac_table"], (
            "unread kinds keep their value"
        )

"""The agent's state: private files, sequence numbers that survive restarts, machine ids."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent.state import CREDENTIALS_FILE, STATE_FILE, Credentials, State, machine_id, write_atomic

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_token_and_state_files_are_private(tmp_path: Path) -> None:
    state = State(tmp_path / "state")
    state.save_credentials(Credentials(device_id=7, token="secret-token"))
    state.take_seq()
    assert mode(tmp_path / "state") == 0o700
    assert mode(tmp_path / "state" / CREDENTIALS_FILE) == 0o600
    assert mode(tmp_path / "state" / STATE_FILE) == 0o600
    assert State(tmp_path / "state").credentials() == Credentials(device_id=7, token="secret-token")


def test_atomic_write_keeps_0600_even_over_a_stale_world_readable_tmp(tmp_path: Path) -> None:
    stale = tmp_path / f".{CREDENTIALS_FILE}.tmp"
    stale.write_text("left by a crash")
    stale.chmod(0o644)
    write_atomic(tmp_path / CREDENTIALS_FILE, b"{}")
    assert mode(tmp_path / CREDENTIALS_FILE) == 0o600
    assert sorted(os.listdir(tmp_path)) == [CREDENTIALS_FILE]


def test_sequence_numbers_survive_a_restart(tmp_path: Path) -> None:
    state = State(tmp_path)
    assert [state.take_seq() for _ in range(3)] == [1, 2, 3]
    # A crash right after take_seq: the number was already persisted, so it is never reused.
    restarted = State(tmp_path)
    assert restarted.next_seq == 4
    assert restarted.take_seq() == 4
    assert State(tmp_path, min_next_seq=10).take_seq() == 10  # never below what is still spooled


def test_inventory_hash_and_drop_counter_persist(tmp_path: Path) -> None:
    state = State(tmp_path)
    state.sent_full_inventory("a" * 64, seq=5)
    state.count_dropped(3)
    restarted = State(tmp_path)
    assert restarted.inventory_hash == "a" * 64
    assert restarted.dropped_reports == 3


def test_need_inventory_forgets_only_when_no_full_inventory_is_on_its_way(tmp_path: Path) -> None:
    state = State(tmp_path)
    state.sent_full_inventory("a" * 64, seq=5)
    assert not state.forget_inventory(answered_seq=4)  # report 5 (the full one) is still to come
    assert state.inventory_hash == "a" * 64
    assert state.forget_inventory(answered_seq=6)
    assert State(tmp_path).inventory_hash is None


def test_lost_state_discards_the_token_so_the_agent_enrolls_again(tmp_path: Path) -> None:
    state = State(tmp_path)
    state.save_credentials(Credentials(device_id=1, token="t"))
    state.take_seq()
    (tmp_path / STATE_FILE).unlink()
    assert State(tmp_path).credentials() is None


def test_corrupt_state_is_set_aside_and_started_afresh(tmp_path: Path) -> None:
    state = State(tmp_path)
    state.save_credentials(Credentials(device_id=1, token="t"))
    (tmp_path / STATE_FILE).write_bytes(b"\x00garbage")
    fresh = State(tmp_path, min_next_seq=42)
    assert fresh.take_seq() == 42
    assert fresh.credentials() is None
    assert (tmp_path / f"{STATE_FILE}.corrupt").read_bytes() == b"\x00garbage"


def test_machine_id_from_the_os_file(tmp_path: Path) -> None:
    (tmp_path / "machine-id").write_text("3d1219c7c4c5404aaa1f6d2a48adfda4\n")
    files = (tmp_path / "absent", tmp_path / "machine-id")
    assert machine_id(tmp_path / "state", files) == "3d1219c7c4c5404aaa1f6d2a48adfda4"
    assert not (tmp_path / "state").exists()


def test_machine_id_generated_once_where_the_os_has_none(tmp_path: Path) -> None:
    (tmp_path / "empty-id").write_text("\n")
    files = (tmp_path / "absent", tmp_path / "empty-id")
    (tmp_path / "state").mkdir()
    generated = machine_id(tmp_path / "state", files)
    assert len(generated) == 32
    assert machine_id(tmp_path / "state", files) == generated
    assert machine_id(None, files) != generated  # `once --print` keeps nothing

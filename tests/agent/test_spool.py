"""The spool: durable before sending, replayed in order, bounded, and never stopped by a bad file."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest

from agent.spool import CORRUPT_DIR, REJECTED_DIR, SET_ASIDE_KEEP, Spool

MiB = 1024 * 1024


class Drops:
    """The on_drop callback: how many reports the spool said were lost."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, count: int) -> None:
        self.count += count


def report(seq: int, size: int = 100) -> bytes:
    return b'{"seq": %d, "pad": "%s"}' % (seq, os.urandom(size // 2).hex().encode())


def spool_at(
    directory: Path, drops: Drops | None = None, max_bytes: int = 64 * MiB, max_age: float = 3600
) -> Spool:
    return Spool(directory, max_bytes=max_bytes, max_age=max_age, on_drop=drops or Drops())


def drain(spool: Spool) -> list[int]:
    seqs = []
    while (item := spool.oldest()) is not None:
        seqs.append(item[0])
        spool.remove(item[0])
    return seqs


def test_reports_are_files_named_by_zero_padded_seq_and_replayed_oldest_first(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    for seq in (1, 2, 9, 10, 100):
        spool.put(seq, report(seq))
    assert sorted(os.listdir(tmp_path)) == [f"{seq:020d}.json.gz" for seq in (1, 2, 9, 10, 100)]
    seq, body = spool.oldest() or (0, b"")
    assert seq == 1
    assert gzip.decompress(body).startswith(b'{"seq": 1,')
    assert drain(spool) == [1, 2, 9, 10, 100]
    assert os.listdir(tmp_path) == []


def test_order_survives_a_restart_and_crash_leftovers_are_cleaned(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    for seq in range(1, 6):
        spool.put(seq, report(seq))
    (tmp_path / ".00000000000000000006.json.gz.tmp").write_bytes(b"half a write")
    reopened = spool_at(tmp_path)
    assert len(reopened) == 5
    assert reopened.last_seq == 5
    assert drain(reopened) == [1, 2, 3, 4, 5]
    assert os.listdir(tmp_path) == []


def test_seq_must_grow(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    spool.put(5, report(5))
    with pytest.raises(ValueError, match="not above"):
        spool.put(5, report(5))


def test_size_bound_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    drops = Drops()
    spool = spool_at(tmp_path, drops, max_bytes=64 * 1024)
    for seq in range(1, 41):
        spool.put(seq, report(seq, size=4000))  # random: ~2 KiB each once gzip'ed
    assert spool.total_bytes <= 64 * 1024
    assert spool.total_bytes == sum(path.stat().st_size for path in tmp_path.iterdir())
    kept = drain(spool)
    assert kept == list(range(41 - len(kept), 41))
    assert drops.count == 40 - len(kept) > 0


def test_the_newest_report_is_kept_even_when_alone_over_the_bound(tmp_path: Path) -> None:
    drops = Drops()
    spool = spool_at(tmp_path, drops, max_bytes=64 * 1024)
    spool.put(1, report(1))
    spool.put(2, report(2, size=200_000))
    assert drain(spool) == [2]
    assert drops.count == 1


def test_age_bound_drops_reports_older_than_max_age(tmp_path: Path) -> None:
    drops = Drops()
    spool = spool_at(tmp_path, drops, max_age=3600)
    for seq in (1, 2, 3):
        spool.put(seq, report(seq))
    two_hours_ago = time.time() - 7200
    for seq in (1, 2):
        os.utime(tmp_path / f"{seq:020d}.json.gz", (two_hours_ago, two_hours_ago))
    spool.put(4, report(4))
    assert drain(spool) == [3, 4]
    assert drops.count == 2


def test_corrupt_files_are_set_aside_and_the_rest_still_goes(tmp_path: Path) -> None:
    drops = Drops()
    spool = spool_at(tmp_path, drops)
    for seq in (1, 2, 3, 4):
        spool.put(seq, report(seq))
    whole = (tmp_path / f"{2:020d}.json.gz").read_bytes()
    (tmp_path / f"{2:020d}.json.gz").write_bytes(whole[:-6])  # truncated
    (tmp_path / f"{3:020d}.json.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 30)  # not deflate
    flipped = bytearray((tmp_path / f"{4:020d}.json.gz").read_bytes())
    flipped[-8] ^= 0xFF  # CRC mismatch
    (tmp_path / f"{4:020d}.json.gz").write_bytes(bytes(flipped))
    (tmp_path / "notes.txt").write_text("someone's file")
    reopened = spool_at(tmp_path, drops)
    assert drain(reopened) == [1]
    assert drops.count == 3
    assert sorted(os.listdir(tmp_path / CORRUPT_DIR)) == [
        f"{2:020d}.json.gz",
        f"{3:020d}.json.gz",
        f"{4:020d}.json.gz",
        "notes.txt",
    ]
    assert reopened.total_bytes == 0


def test_rejected_reports_are_kept_aside_bounded_and_never_resent(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    total = SET_ASIDE_KEEP + 5
    for seq in range(1, total + 2):
        spool.put(seq, report(seq))
    for seq in range(1, total + 1):
        assert (spool.oldest() or (0,))[0] == seq
        spool.reject(seq)
    assert drain(spool) == [total + 1]
    kept = sorted(os.listdir(tmp_path / REJECTED_DIR))
    assert kept == [f"{seq:020d}.json.gz" for seq in range(total - SET_ASIDE_KEEP + 1, total + 1)]
    assert drain(spool_at(tmp_path)) == []


def test_only_the_oldest_report_can_leave(tmp_path: Path) -> None:
    spool = spool_at(tmp_path)
    spool.put(1, report(1))
    spool.put(2, report(2))
    with pytest.raises(ValueError, match="not the oldest"):
        spool.remove(2)

"""The bounded on-disk spool: every report is here before anyone tries to send it.

One gzip'ed JSON file per report, named by its zero-padded seq so that name order is send order.
A report leaves the spool when the collector took it (2xx), when it is rejected (4xx: moved to
``rejected/`` and kept for a look, a bounded number of them), or when the spool's limits (total
bytes, age) drop the oldest. A file that cannot be read back is moved to ``corrupt/``: a bad file
costs that report, never the agent.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import time
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path

from agent.state import make_private_dir, write_atomic

log = logging.getLogger(__name__)

REJECTED_DIR = "rejected"
CORRUPT_DIR = "corrupt"
SET_ASIDE_KEEP = 20
"""Newest files kept in ``rejected/`` and ``corrupt/`` each; they are for diagnosis, not delivery."""
_NAME = re.compile(r"^(\d{20})\.json\.gz$")
_CHUNK = 64 * 1024


def _name(seq: int) -> str:
    return f"{seq:020d}.json.gz"


def _gzip_problem(data: bytes) -> str | None:
    """Why ``data`` is not one whole gzip member (CRC and length checked), without inflating it all
    into memory; None when it is fine."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending = data
    try:
        while pending and not inflater.eof:
            inflater.decompress(pending, _CHUNK)
            pending = inflater.unconsumed_tail
    except zlib.error as exc:
        return f"not valid gzip: {exc}"
    if not inflater.eof:
        return "gzip stream is truncated"
    if inflater.unused_data:
        return "extra bytes after the gzip stream"
    return None


class Spool:
    """Reports waiting for delivery, oldest first. Used by one thread."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        max_age: float,
        on_drop: Callable[[int], None] = lambda count: None,
    ) -> None:
        """``on_drop(count)`` is told of every report lost for good (limits, unreadable files)."""
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_age = max_age
        self._on_drop = on_drop
        make_private_dir(directory)
        seqs: list[int] = []
        self._bytes = 0
        with os.scandir(directory) as entries:
            for entry in entries:
                if not entry.is_file():
                    continue
                if entry.name.startswith("."):  # a write a crash interrupted
                    os.unlink(entry.path)
                    continue
                match = _NAME.match(entry.name)
                if match is None:
                    log.warning("spool: %s is not a report's name; moved to %s/", entry.name, CORRUPT_DIR)
                    self._set_aside(Path(entry.path), CORRUPT_DIR)
                    continue
                seqs.append(int(match.group(1)))
                self._bytes += entry.stat().st_size
        self._seqs = deque(sorted(seqs))

    def __len__(self) -> int:
        return len(self._seqs)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    @property
    def last_seq(self) -> int:
        """Highest seq waiting, 0 when empty."""
        return self._seqs[-1] if self._seqs else 0

    def _path(self, seq: int) -> Path:
        return self.directory / _name(seq)

    def put(self, seq: int, report_json: bytes) -> None:
        """Store a report durably, then apply the limits (which may drop the oldest ones)."""
        if seq <= self.last_seq:
            raise ValueError(f"seq {seq} is not above the last spooled seq {self.last_seq}")
        data = gzip.compress(report_json, compresslevel=6, mtime=0)
        write_atomic(self._path(seq), data)
        self._seqs.append(seq)
        self._bytes += len(data)
        self._enforce_limits()

    def oldest(self) -> tuple[int, bytes] | None:
        """The oldest readable report as (seq, gzip bytes); unreadable ones are set aside on the way."""
        while self._seqs:
            seq = self._seqs[0]
            path = self._path(seq)
            try:
                data = path.read_bytes()
            except OSError as exc:
                problem: str | None = f"cannot read: {exc.strerror or exc}"
            else:
                problem = _gzip_problem(data)
            if problem is None:
                return seq, data
            log.error("spool: report %d is unreadable (%s); moved to %s/", seq, problem, CORRUPT_DIR)
            self._set_aside(self._take(seq), CORRUPT_DIR)
            self._on_drop(1)
        return None

    def remove(self, seq: int) -> None:
        """The collector has it (accepted or duplicate)."""
        self._take(seq).unlink(missing_ok=True)

    def reject(self, seq: int) -> None:
        """The collector refused it for good: keep it in ``rejected/`` and never send it again."""
        self._set_aside(self._take(seq), REJECTED_DIR)

    def _take(self, seq: int) -> Path:
        """Out of the queue (only the oldest report is ever sent); its path, still on disk."""
        if not self._seqs or self._seqs[0] != seq:
            raise ValueError(f"seq {seq} is not the oldest spooled report")
        path = self._path(seq)
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        self._seqs.popleft()
        self._bytes = max(0, self._bytes - size)
        return path

    def _enforce_limits(self) -> None:
        """Drop the oldest reports beyond max_age, then while over max_bytes (never the newest)."""
        too_old = time.time() - self.max_age
        dropped: list[int] = []
        while len(self._seqs) > 1:
            path = self._path(self._seqs[0])
            try:
                stat = path.stat()
            except FileNotFoundError:
                stat = None
            if stat is not None and stat.st_mtime >= too_old and self._bytes <= self.max_bytes:
                break
            dropped.append(self._seqs[0])
            self._take(self._seqs[0])
            path.unlink(missing_ok=True)
        if dropped:
            log.warning(
                "spool limits (%d bytes, %d s) reached: dropped %d oldest reports, seq %d..%d",
                self.max_bytes,
                self.max_age,
                len(dropped),
                dropped[0],
                dropped[-1],
            )
            self._on_drop(len(dropped))

    def _set_aside(self, path: Path, folder: str) -> None:
        """Move a file into ``folder`` for diagnosis, keeping only its newest SET_ASIDE_KEEP files."""
        target_dir = self.directory / folder
        make_private_dir(target_dir)
        try:
            os.replace(path, target_dir / path.name)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("cannot move %s aside (%s); deleting it", path, exc.strerror or exc)
            path.unlink(missing_ok=True)
            return
        kept = sorted(os.listdir(target_dir))
        for name in kept[: max(0, len(kept) - SET_ASIDE_KEEP)]:
            (target_dir / name).unlink(missing_ok=True)

"""What the agent remembers across restarts, in its state directory.

* ``credentials.json`` (0600) — device id and the per-agent token, written only by enrollment, so
  ``dozor-agent enroll`` can replace it while the service runs.
* ``state.json`` (0600) — the next sequence number, the inventory the collector holds, the count of
  reports lost to the spool's limits. Every change is on disk before it is acted on: a sequence
  number is never handed out twice, even after a crash.

The collector drops a report whose ``seq`` is not above the last one it took, so a lost
``state.json`` (numbering restarts at 1) would make every later report a silent "duplicate". The
credentials are therefore only trusted together with the state they were used with: without it the
agent enrolls again, which restarts sequence checking on the collector.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Sequence
from pathlib import Path

import msgspec

from agent.os_defaults import CURRENT, machine_id_candidates

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
CREDENTIALS_FILE = "credentials.json"
GENERATED_ID_FILE = "machine-id"
_MACHINE_ID = re.compile(r"^[A-Za-z0-9._:{}-]{8,128}$")
"""``agent.schema.report.MachineId``."""


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """tmp + fsync + rename: a crash leaves the old file or the new one, never a mix or a 0644 copy."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)  # os.open's mode applies only to a file it creates
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if os.name == "posix":  # make the rename itself durable; Windows cannot open a directory
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (0700) and any missing parents (0700 too: the state dir holds the token)."""
    if not path.parent.is_dir():
        make_private_dir(path.parent)
    path.mkdir(mode=0o700, exist_ok=True)


def _valid_id(value: str) -> str | None:
    value = value.strip()
    return value if _MACHINE_ID.match(value) else None


def os_machine_id(files: Sequence[Path] = CURRENT.machine_id_files) -> str | None:
    """The OS's own stable id (``agent.os_defaults.machine_id_candidates``), if it has a valid one."""
    for candidate in machine_id_candidates(files):
        found = _valid_id(candidate)
        if found:
            return found
    return None


def machine_id(state_dir: Path | None, files: Sequence[Path] = CURRENT.machine_id_files) -> str:
    """The OS's id; where there is none, one generated once and kept in ``state_dir`` (or, without
    a state dir, a throw-away one for a report that is only printed)."""
    found = os_machine_id(files)
    if found:
        return found
    if state_dir is None:
        return uuid.uuid4().hex
    path = state_dir / GENERATED_ID_FILE
    try:
        kept = _valid_id(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError):
        kept = None
    if kept:
        return kept
    generated = uuid.uuid4().hex
    log.warning("this OS has no machine id; using a generated one kept in %s", path)
    write_atomic(path, generated.encode("ascii"), mode=0o644)
    return generated


class Credentials(msgspec.Struct, forbid_unknown_fields=True):
    device_id: int
    token: str


class _Saved(msgspec.Struct, frozen=True):
    next_seq: int = 1
    inventory_hash: str | None = None
    """Hash of the inventory the collector holds, or will hold once the spool up to
    ``inventory_seq`` (the report that carried it in full) is delivered."""
    inventory_seq: int = 0
    dropped_reports: int = 0
    """Reports lost for good: dropped by the spool's limits or unreadable on disk."""


class State:
    """The agent's state directory. One process (``run``) owns ``state.json``; see the module doc."""

    def __init__(self, directory: Path, min_next_seq: int = 1) -> None:
        """Load (or start) the state; ``min_next_seq`` is one past the highest seq still spooled."""
        self.directory = directory
        make_private_dir(directory)
        path = directory / STATE_FILE
        try:
            saved = msgspec.json.decode(path.read_bytes(), type=_Saved)
        except FileNotFoundError:
            saved = None
        except (OSError, msgspec.DecodeError) as exc:
            log.error("state file %s is unreadable (%s); starting a new one", path, exc)
            path.replace(path.with_name(f"{STATE_FILE}.corrupt"))
            saved = None
        if saved is None:
            self._forget_credentials_of_lost_state()
            saved = _Saved()
        self._saved = saved
        if saved.next_seq < min_next_seq or not path.exists():
            self._update(next_seq=max(saved.next_seq, min_next_seq))

    def _forget_credentials_of_lost_state(self) -> None:
        path = self.directory / CREDENTIALS_FILE
        if path.exists():
            log.warning(
                "agent state is missing but credentials exist: sequence numbers restart at 1, "
                "so the agent must enroll again (the old token is discarded)"
            )
            path.unlink()

    def _update(self, **changes: object) -> None:
        """Write first, then remember: if the write fails, nothing changed."""
        saved = msgspec.structs.replace(self._saved, **changes)
        write_atomic(self.directory / STATE_FILE, msgspec.json.encode(saved))
        self._saved = saved

    # ---- sequence numbers

    @property
    def next_seq(self) -> int:
        """The seq the next report will get (every lower one has been handed out)."""
        return self._saved.next_seq

    def take_seq(self) -> int:
        """The next report's seq, already persisted as used."""
        seq = self._saved.next_seq
        self._update(next_seq=seq + 1)
        return seq

    # ---- inventory by reference

    @property
    def inventory_hash(self) -> str | None:
        return self._saved.inventory_hash

    def sent_full_inventory(self, inventory_hash: str, seq: int) -> None:
        self._update(inventory_hash=inventory_hash, inventory_seq=seq)

    def forget_inventory(self, answered_seq: int) -> bool:
        """The collector answered ``need_inventory`` to report ``answered_seq``. Forget the hash unless
        a full inventory is still on its way (spooled after that report); True if forgotten."""
        if self._saved.inventory_hash is None or answered_seq < self._saved.inventory_seq:
            return False
        self._update(inventory_hash=None, inventory_seq=0)
        return True

    # ---- losses

    @property
    def dropped_reports(self) -> int:
        return self._saved.dropped_reports

    def count_dropped(self, count: int) -> None:
        self._update(dropped_reports=self._saved.dropped_reports + count)

    # ---- credentials

    def credentials(self) -> Credentials | None:
        """Read from disk on every call: ``dozor-agent enroll`` may have replaced them."""
        path = self.directory / CREDENTIALS_FILE
        try:
            return msgspec.json.decode(path.read_bytes(), type=Credentials)
        except FileNotFoundError:
            return None
        except (OSError, msgspec.DecodeError) as exc:
            log.error("credentials file %s is unreadable (%s); enroll again", path, exc)
            return None

    def save_credentials(self, credentials: Credentials) -> None:
        write_atomic(self.directory / CREDENTIALS_FILE, msgspec.json.encode(credentials))

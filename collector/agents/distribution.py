"""What a PC on the LAN needs to install the agent from the collector alone: the files of one
configured folder (the MSI, the Linux wheelhouse, the CA certificate) with their SHA-256.

Only regular, non-hidden files inside the folder are ever named or opened; a path that leaves it
(``..``, an absolute path, a link pointing out) is :class:`NotServed`, whatever it is spelled as.
Checksums are computed from the files themselves and kept while a file's size and time are the same,
so ``SHA256SUMS`` always matches what is served.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import msgspec

CHECKSUMS_NAME = "SHA256SUMS"
"""Computed over the folder; a file of that name in the folder is not served (it could be stale)."""
CHUNK = 1024 * 1024


class NotServed(Exception):
    """No such file here, or one that is never served (hidden, outside the folder, not a file)."""


class Artefact(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    """The path below the folder, with ``/`` (``wheelhouse/psutil-….whl``)."""
    size_bytes: int
    sha256: str
    modified_at: datetime


class Distribution:
    def __init__(self, directory: Path) -> None:
        self.root = directory.resolve()
        self._digests: dict[Path, tuple[int, int, str]] = {}
        """Path → (size, mtime_ns, sha256) as last computed."""
        self._lock = threading.Lock()

    def artefacts(self) -> list[Artefact]:
        """Every file served, by name; none if the folder does not exist (yet)."""
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            try:
                found.append(self._artefact(self.path_of(relative.as_posix())))
            except NotServed:
                continue
        return found

    def path_of(self, name: str) -> Path:
        """The file served as ``name``, or NotServed."""
        parts = PurePosixPath(name).parts
        if (
            not parts
            or "\\" in name
            or "\x00" in name
            or PurePosixPath(name).is_absolute()
            or any(part in ("..", ".") or part.startswith(".") for part in parts)
            or name == CHECKSUMS_NAME
        ):
            raise NotServed(name)
        path = (self.root / Path(*parts)).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise NotServed(name)
        return path

    def artefact(self, name: str) -> Artefact:
        return self._artefact(self.path_of(name))

    def checksums(self) -> str:
        """``sha256sum``'s format, so ``sha256sum -c SHA256SUMS`` checks a download."""
        return "".join(f"{item.sha256}  {item.name}\n" for item in self.artefacts())

    def _artefact(self, path: Path) -> Artefact:
        stat = path.stat()
        return Artefact(
            name=path.relative_to(self.root).as_posix(),
            size_bytes=stat.st_size,
            sha256=self._sha256(path, stat.st_size, stat.st_mtime_ns),
            modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
        )

    def _sha256(self, path: Path, size: int, mtime_ns: int) -> str:
        with self._lock:
            known = self._digests.get(path)
        if known is not None and known[:2] == (size, mtime_ns):
            return known[2]
        digest = hashlib.sha256()
        with path.open("rb") as file:
            while chunk := file.read(CHUNK):
                digest.update(chunk)
        with self._lock:
            self._digests[path] = (size, mtime_ns, digest.hexdigest())
        return digest.hexdigest()

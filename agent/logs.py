"""Where the agent's log goes, chosen in one place.

* ``dozor-agent`` on a terminal or under systemd: stderr (systemd keeps it in the journal).
* The Windows service (no console, nobody reads stderr): a size-capped rotating file where an
  admin looks (``%ProgramData%\\Dozor\\logs\\agent.log``, ``agent.os_defaults``), and every error also
  in the Application Event Log, through the service's own writer (``agent.windows_service``).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FILE_MAX_BYTES = 5 * 1024 * 1024
FILE_BACKUPS = 5
"""agent.log plus agent.log.1 … .5: at most 30 MB of log, the oldest dropped first."""

EventKind = Literal["info", "warning", "error"]
EventWriter = Callable[[EventKind, str], None]
"""Writes one entry to the Event Log (``agent.windows_service.ServiceHost.event_log``)."""


class EventLogHandler(logging.Handler):
    """Errors (and worse) as Event Log entries: the traceback included, no timestamp (the entry has
    its own)."""

    def __init__(self, write: EventWriter) -> None:
        super().__init__(logging.ERROR)
        self._write = write
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._write("error", self.format(record))
        except Exception:
            self.handleError(record)


def handlers(
    log_file: Path | None = None,
    event_log: EventWriter | None = None,
    *,
    max_bytes: int = FILE_MAX_BYTES,
    backups: int = FILE_BACKUPS,
) -> list[logging.Handler]:
    """stderr, or the rotating ``log_file``; plus errors to ``event_log`` when given."""
    chosen: list[logging.Handler] = []
    if log_file is None:
        chosen.append(logging.StreamHandler(sys.stderr))
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        chosen.append(
            logging.handlers.RotatingFileHandler(
                log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
        )
    if event_log is not None:
        chosen.append(EventLogHandler(event_log))
    return chosen


def setup_logging(level: str, chosen: list[logging.Handler] | None = None) -> None:
    """The process's logging: ``level`` (debug…error) to ``chosen`` (default: stderr), each line in
    :data:`FORMAT` unless its handler has a format of its own."""
    logging.basicConfig(
        level=level.upper(), format=FORMAT, handlers=chosen if chosen is not None else handlers(), force=True
    )

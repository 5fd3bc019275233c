"""What every command group that reads the store shares: its options, and the store itself."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from collector.config import CollectorConfig
from collector.runtime import database_url
from collector.store.db import make_engine, make_sessionmaker, migrate

Command = Callable[[CollectorConfig, argparse.Namespace], int]
"""What a subcommand runs: the effective config and the parsed arguments in, the exit status out."""


def add_command_group(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    run: Command,
    data_dir_help: str = "where the SQLite store lives (./dozor-data)",
) -> argparse.ArgumentParser:
    """A subcommand that runs ``run(config, args)`` with the config from ``--config``/``--data-dir``."""
    parser = commands.add_parser(name, help=help_text)
    parser.set_defaults(run=run)
    parser.add_argument("--config", type=Path, help="YAML config file (default: embedded defaults)")
    parser.add_argument("--data-dir", type=Path, help=data_dir_help)
    return parser


@contextmanager
def store_sessions(config: CollectorConfig) -> Iterator[sessionmaker[Session]]:
    """The running collector's store, migrated (a command may come before the first ``serve``)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)  # as ``serve`` does, for the SQLite default
    engine = make_engine(database_url(config))
    try:
        migrate(engine)
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()

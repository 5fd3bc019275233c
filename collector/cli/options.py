"""Options every command group that reads the store shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from collector.config import CollectorConfig

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

"""``dozor-collector``: the collector's command line, one module per command group.

Each group adds its subcommands with ``add_commands(commands)`` and sets ``run(config, args)`` as
the subcommand's default; ``main`` loads the config once, sets up logging and calls it.
"""

from __future__ import annotations

import argparse
import logging
import sys

import msgspec
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from collector.cli import configs, devices, digest, hosts, serve
from collector.config import CollectorConfig, ConfigError, load_config, with_overrides
from collector.runtime import database_url

COMMAND_GROUPS = (serve, digest, hosts, configs, devices)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dozor-collector", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.add_commands(commands)
    return parser


def _effective_config(args: argparse.Namespace) -> CollectorConfig:
    config = load_config(args.config)
    overrides = {
        key: value
        for key, value in (("data_dir", args.data_dir), ("listen", getattr(args, "listen", None)))
        if value is not None
    }
    if getattr(args, "language", None):
        overrides["digest"] = {**msgspec.to_builtins(config.digest, enc_hook=str), "language": args.language}
    if getattr(args, "local_agent", False):
        overrides["local_agent"] = True
    return with_overrides(config, "command line", **overrides) if overrides else config


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check-config":
            return serve.check_config(args.config)
        config = _effective_config(args)
    except ConfigError as exc:
        print(f"dozor-collector: config error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.run(config, args)
    except SQLAlchemyError as exc:
        where = make_url(database_url(config)).render_as_string(hide_password=True)
        print(
            f"dozor-collector: cannot use the database at {where}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 0

"""``dozor-collector``: the collector's command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import timedelta
from pathlib import Path

import msgspec
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from collector import configs_cli, devices_cli
from collector.api import make_server
from collector.config import CollectorConfig, ConfigError, load_config, with_overrides
from collector.digest import DigestSendError, make_digest, send_digest
from collector.runtime import build_runtime, database_url
from collector.store.db import make_engine, make_sessionmaker

log = logging.getLogger("collector")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dozor-collector", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the collector (API, ingest, metrics)")
    serve.add_argument("--config", type=Path, help="YAML config file (default: embedded defaults)")
    serve.add_argument("--data-dir", type=Path, help="where the SQLite store and secrets live (./dozor-data)")
    serve.add_argument("--listen", metavar="HOST:PORT", help="address to listen on (127.0.0.1:8470)")
    serve.add_argument("--local-agent", action="store_true", help="also run this machine's agent")
    check = commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("config", type=Path)
    digest = commands.add_parser("digest", help="print or send the daily digest now (section digest)")
    digest.add_argument("--config", type=Path, help="YAML config file (default: embedded defaults)")
    digest.add_argument("--data-dir", type=Path, help="where the SQLite store lives (./dozor-data)")
    digest.add_argument("--language", choices=("uk", "en"), help="override digest.language")
    action = digest.add_mutually_exclusive_group(required=True)
    action.add_argument("--print", action="store_true", help="print the digest instead of sending it")
    action.add_argument("--send-now", action="store_true", help="send it to digest.recipients now")
    configs_cli.add_commands(commands)
    devices_cli.add_commands(commands)
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


async def _serve(config: CollectorConfig) -> None:
    runtime = build_runtime(config)
    host, port = config.host_port
    server = make_server(runtime)
    token_path = (config.data_dir / "admin.token").resolve()
    print(f"Dozor collector on http{'s' if config.tls.cert_file else ''}://{host}:{port}", file=sys.stderr)
    if token_path.exists():
        print(f"Admin token (for the API): {token_path}", file=sys.stderr)
    try:
        await server.serve()
    finally:
        runtime.engine.dispose()


def _digest(config: CollectorConfig, send: bool) -> int:
    """Print the digest, or send it; a clear message and a non-zero status when that fails."""
    engine = make_engine(database_url(config))
    try:
        digest = make_digest(
            make_sessionmaker(engine),
            config.digest,
            timedelta(seconds=config.liveness.offline_after_seconds),
        )
        if not send:
            print(f"Subject: {digest.subject}\n\n{digest.text}")
            return 0
        send_digest(digest, config.digest)
    except DigestSendError as exc:
        print(f"dozor-collector: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"digest sent to {', '.join(config.digest.recipients)}: {digest.subject}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "check-config":
            load_config(args.config)
            print(f"{args.config}: ok")
            return 0
        config = _effective_config(args)
    except ConfigError as exc:
        print(f"dozor-collector: config error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "digest":
            return _digest(config, send=args.send_now)
        if args.command == "configs":
            return configs_cli.run(config, args)
        if args.command == "devices":
            return devices_cli.run(config, args)
        asyncio.run(_serve(config))
    except SQLAlchemyError as exc:
        where = make_url(database_url(config)).render_as_string(hide_password=True)
        print(
            f"dozor-collector: cannot use the database at {where}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

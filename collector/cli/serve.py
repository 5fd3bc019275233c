"""``dozor-collector serve`` and ``check-config``: run the collector, or only validate its config."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from collector.api import make_server
from collector.cli.options import add_command_group
from collector.config import CollectorConfig, load_config
from collector.runtime import build_runtime


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = add_command_group(
        commands,
        "serve",
        "run the collector (API, ingest, metrics)",
        run,
        data_dir_help="where the SQLite store and secrets live (./dozor-data)",
    )
    serve.add_argument("--listen", metavar="HOST:PORT", help="address to listen on (127.0.0.1:8470)")
    serve.add_argument("--local-agent", action="store_true", help="also run this machine's agent")
    check = commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("config", type=Path)


def check_config(path: Path) -> int:
    """Raises ConfigError (reported by ``main``) when the file is wrong."""
    load_config(path)
    print(f"{path}: ok")
    return 0


def run(config: CollectorConfig, _: argparse.Namespace) -> int:
    asyncio.run(_serve(config))
    return 0


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

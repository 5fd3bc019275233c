"""``dozor-agent``: the agent's command line.

Expected failures (a wrong config, a refused enrollment, an unwritable state dir) end with one line
on stderr and an exit code — 2 for configuration, 1 otherwise — never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

import msgspec

from agent import __version__
from agent.config import DEFAULT_CONFIG_PATH, AgentConfig, ConfigError, load_config
from agent.logs import setup_logging
from agent.runner import ProbeCache, collect_health, collect_inventory, inventory_hash
from agent.service import STOP_DEADLINE_SECONDS, Agent, AgentThread, build_report, enroll
from agent.state import State, machine_id, make_private_dir
from agent.transport import EnrollError, Transport

EXIT_FAILURE = 1
EXIT_CONFIG = 2
SIGNAL_POLL_SECONDS = 0.5
"""How often the main thread looks whether a stop signal came (its handler only notes it)."""

log = logging.getLogger("agent")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dozor-agent", description="Reports this PC to the Dozor collector."
    )
    parser.add_argument("--version", action="version", version=f"dozor-agent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "collect and deliver reports until stopped (SIGTERM, Ctrl-C)"),
        ("enroll", "exchange the enrollment secret for this agent's own token"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument(
            "--config",
            type=Path,
            default=DEFAULT_CONFIG_PATH,
            help=f"YAML config (default {DEFAULT_CONFIG_PATH})",
        )
    once = commands.add_parser(
        "once", help="collect one full report", description="Collect one full report; needs no config."
    )
    once.add_argument(
        "--print",
        action="store_true",
        required=True,
        help="print it as indented JSON on stdout and send nothing",
    )
    once.add_argument(
        "--state-dir",
        type=Path,
        help="keep the expensive probes' results here and rerun them only every "
        "--updates-interval seconds, as `run` does (default: every probe runs, nothing is kept)",
    )
    once.add_argument("--updates-interval", type=float, default=12 * 3600.0, help=argparse.SUPPRESS)
    return parser


def _print_report(state_dir: Path | None, updates_interval: float) -> int:
    health, health_errors = collect_health()
    if state_dir is None:
        inventory, inventory_errors = collect_inventory()
    else:
        make_private_dir(state_dir)
        inventory, inventory_errors = collect_inventory(
            cache=ProbeCache(state_dir), intervals={"updates": updates_interval}
        )
    report = build_report(
        1,
        machine_id(None),
        health=health,
        inventory=inventory,
        inventory_hash=inventory_hash(inventory),
        probe_errors=health_errors + inventory_errors,
    )
    sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n")
    return 0


def _enroll(config: AgentConfig, config_file: Path) -> int:
    state = State(config.state_dir)
    transport = Transport(config.collector_url, ca_file=config.ca_file, timeout=config.request_timeout)
    try:
        credentials = enroll(config, state, transport, config_file)
    except EnrollError as exc:
        print(f"dozor-agent: enrollment with {config.collector_url} failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"enrolled as device {credentials.device_id}; token kept in {config.state_dir}")
    return 0


def _run(config: AgentConfig, config_file: Path) -> int:
    signalled: list[int] = []

    def request_stop(signum: int, _frame: object) -> None:
        signalled.append(signum)  # nothing else: a handler must take no lock the main thread may hold

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    worker = AgentThread(Agent(config, config_file=config_file))
    worker.start()
    while not signalled and not worker.join(SIGNAL_POLL_SECONDS):
        pass
    if not signalled:
        log.error("the agent's loop failed", exc_info=worker.error)
        return EXIT_FAILURE
    worker.stop()
    if not worker.join(STOP_DEADLINE_SECONDS):
        log.error("the agent did not stop within %.0f s; exiting anyway", STOP_DEADLINE_SECONDS)
        return EXIT_FAILURE
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C during `once` or `enroll`; `run` handles it as a stop
        return 130


def _main(argv: list[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "once":
        setup_logging("warning")
        return _print_report(args.state_dir, args.updates_interval)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"dozor-agent: {args.config}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(config.log_level)
    try:
        return _enroll(config, args.config) if args.command == "enroll" else _run(config, args.config)
    except OSError as exc:  # the state dir cannot be created, read or written
        where = f" ({exc.filename})" if exc.filename else ""
        print(
            f"dozor-agent: cannot use state_dir {config.state_dir}: {exc.strerror or exc}{where}",
            file=sys.stderr,
        )
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())

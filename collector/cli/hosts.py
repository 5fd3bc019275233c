"""``dozor-collector hosts …``: the agents' PCs, and approving those enrolled under
``enrollment.require_approval``. Thin: the same store functions as the API, who approved recorded
as ``--by`` (default: the login running the command)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime, timedelta

from collector.cli.options import add_command_group, store_sessions
from collector.config import CollectorConfig
from collector.store import queries
from collector.store.agents import NotPending, approve_agent


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hosts = add_command_group(commands, "hosts", "PCs with an agent: list, approve enrollments", run)
    actions = hosts.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every PC: id, name, last report, approval")
    listing.add_argument("--pending", action="store_true", help="only PCs waiting for approval")
    approve = actions.add_parser("approve", help="approve a PC enrolled under enrollment.require_approval")
    approve.add_argument("host", type=int, help="the host id (hosts list)")
    approve.add_argument("--by", default=getpass.getuser(), help="who approves (default: your login)")


def run(config: CollectorConfig, args: argparse.Namespace) -> int:
    with store_sessions(config) as sessions:
        if args.action == "list":
            offline_after = timedelta(seconds=config.liveness.offline_after_seconds)
            with sessions() as session:
                hosts = queries.list_hosts(session, datetime.now(UTC), offline_after)
            for host in hosts:
                if host.pending_approval or not args.pending:
                    approval = "pending approval" if host.pending_approval else "approved"
                    seen = host.last_seen_at.astimezone().strftime("%Y-%m-%d %H:%M")
                    print(f"{host.id:>6}  {host.hostname:<24} {seen}  {approval}")
            return 0
        try:
            with sessions.begin() as session:
                found = approve_agent(session, args.host, f"{args.by} (command line)", datetime.now(UTC))
        except NotPending as exc:
            print(f"dozor-collector: {exc}", file=sys.stderr)
            return 1
        if not found:
            print(f"dozor-collector: no host with id {args.host}", file=sys.stderr)
            return 1
        print(f"host {args.host} approved by {args.by}")
        return 0

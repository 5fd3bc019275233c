"""``dozor-collector digest``: print the daily digest, or send it now (section ``digest``)."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from collector.cli.options import add_command_group
from collector.config import CollectorConfig
from collector.notify.digest import DigestSendError, make_digest, send_digest
from collector.runtime import database_url
from collector.store.db import make_engine, make_sessionmaker


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    digest = add_command_group(commands, "digest", "print or send the daily digest now (section digest)", run)
    digest.add_argument("--language", choices=("uk", "en"), help="override digest.language")
    action = digest.add_mutually_exclusive_group(required=True)
    action.add_argument("--print", action="store_true", help="print the digest instead of sending it")
    action.add_argument("--send-now", action="store_true", help="send it to digest.recipients now")


def run(config: CollectorConfig, args: argparse.Namespace) -> int:
    """Print the digest, or send it; a clear message and a non-zero status when that fails."""
    engine = make_engine(database_url(config))
    try:
        digest = make_digest(
            make_sessionmaker(engine),
            config.digest,
            timedelta(seconds=config.liveness.offline_after_seconds),
        )
        if not args.send_now:
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

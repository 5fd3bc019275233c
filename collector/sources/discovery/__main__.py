"""``python -m collector.sources.discovery sweep …``: one sweep, sightings as JSON on stdout.

Used to sweep from inside a network namespace (``ip netns exec NS python -m collector.sources.discovery``)
and by hand to check a configuration. A ``DiscoveryError`` prints its kind and message, exit 2.
"""

from __future__ import annotations

import argparse
import sys
import time

import msgspec

from collector.sources.discovery.model import DiscoveryError
from collector.sources.discovery.sweep import DEFAULT_RATE_PPS, SweepConfig, sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m collector.sources.discovery", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("sweep", help="sweep subnets once and print the sightings as JSON")
    one.add_argument("--interface", required=True)
    one.add_argument("--subnet", action="append", default=[], help="CIDR to sweep (repeatable)")
    one.add_argument("--rate", type=int, default=DEFAULT_RATE_PPS, help="packets per second")
    one.add_argument("--timeout", type=float, default=1.0)
    one.add_argument("--retries", type=int, default=1)
    one.add_argument("--no-names", action="store_true", help="skip reverse DNS, NetBIOS and mDNS")
    one.add_argument("--name-timeout", type=float, default=1.0)
    args = parser.parse_args(argv)
    config = SweepConfig(
        interface=args.interface,
        subnets=args.subnet,
        rate_pps=args.rate,
        timeout=args.timeout,
        retries=args.retries,
        names=not args.no_names,
        name_timeout=args.name_timeout,
    )
    started = time.monotonic()
    try:
        sightings = sweep(config)
    except DiscoveryError as error:
        print(f"dozor-discovery: {error.kind}: {error.message}", file=sys.stderr)
        return 2
    result = {"seconds": round(time.monotonic() - started, 3), "sightings": sightings}
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

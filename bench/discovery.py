"""LAN discovery figures: a real sweep inside namespaces, and correlation at council scale.

* ``sweep``: a /24 with ``--responders`` hosts (each its own namespace with an HP/Dell/Cisco MAC on
  one bridge) swept from a scanner namespace by ``python -m collector.sources.discovery sweep``; prints the
  sweep's own wall time (target ≤ 3 s), with and without name lookups, and the process wall time
  (interpreter and scapy start included). Needs root and ``ip netns``; nothing leaves the namespaces.
* ``correlate``: ``--macs`` host MACs behind ``--switches`` switches, as SNMP facts (the poller's
  ``fdb``/``interfaces``/``lldp`` sections): each switch has its share of hosts on access ports
  (every fifth port with a phone+PC pair), and an uplink with an LLDP neighbour that has learned
  ``--uplink-macs`` other hosts. Agents know 80 % of the hosts, the sweep saw 90 %. Prints the time of
  facts → tables → ``correlate`` (target ≤ 2 s) and the peak memory it allocated.

    python -m bench.discovery [--responders 100] [--switches 200] [--macs 10000] [--uplink-macs 2000]
                              [--skip-sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import time
import tracemalloc
from typing import Any

from collector.sources.discovery.correlate import correlate, known_device, switch_table
from collector.sources.discovery.model import Sighting
from tests.collector.discovery.netlab import LAN, Lab, netns_unavailable

OUIS = ("3c:52:82", "00:1a:a0", "a8:b1:d4")
"""HP, Dell, Cisco."""


def bench_sweep(responders: int) -> None:
    reason = netns_unavailable()
    if reason:
        print(f"sweep: skipped ({reason})")
        return
    lab = Lab(f"dzb{os.getpid() % 10000}")
    try:
        started = time.monotonic()
        lab.build()
        for index in range(responders):
            host = 10 + index
            lab.add_host(
                f"h{index}", f"{OUIS[index % 3]}:00:{host // 256:02x}:{host % 256:02x}", f"{LAN}.{host}"
            )
        print(f"sweep: lab of {responders} responders built in {time.monotonic() - started:.1f} s")
        for label, extra in (("without names", ["--no-names"]), ("with names", [])):
            started = time.monotonic()
            process = lab.popen(
                "scan", "-m", "collector.sources.discovery", "sweep",
                "--interface", "eth0", "--subnet", f"{LAN}.0/24",
                "--rate", "1000", "--timeout", "0.5", *extra,
            )  # fmt: skip
            stdout, stderr = process.communicate(timeout=60)
            wall = time.monotonic() - started
            if process.returncode != 0:
                raise SystemExit(f"sweep failed: {stderr}")
            result = json.loads(stdout)
            print(
                f"sweep /24 {label}: {len(result['sightings'])} hosts found "
                f"(expected {responders + 1} with the "
                f"gateway), sweep {result['seconds']:.2f} s, process {wall:.2f} s (target ≤ 3 s)"
            )
    finally:
        lab.close()


def mac(number: int) -> str:
    return f"{OUIS[number % 3]}:{(number >> 16) & 0xFF:02x}:{(number >> 8) & 0xFF:02x}:{number & 0xFF:02x}"


def fleet(
    switches: int, macs: int, uplink_macs: int, seed: int = 1
) -> tuple[list[dict[str, Any]], list[int]]:
    """SNMP facts of ``switches`` switches sharing ``macs`` hosts; returns (facts, host numbers)."""
    rng = random.Random(seed)
    hosts = list(range(1, macs + 1))
    per_switch = macs // switches
    facts = []
    for s in range(switches):
        mine = hosts[s * per_switch : (s + 1) * per_switch]
        own = f"00:00:0c:{s // 256:02x}:{s % 256:02x}"
        interfaces = [{"if_index": p, "name": f"Gi1/0/{p}", "mac": f"{own}:{p:02x}"}
                      for p in range(1, 53)]  # fmt: skip
        fdb, port = [], 1
        for i, host in enumerate(mine):
            fdb.append({"mac": mac(host), "vlan": 10, "port": port, "if_index": port, "status": "learned"})
            if i % 5 != 0:  # every fifth port has a phone and a PC
                port = port % 47 + 1
        for host in rng.sample(hosts, uplink_macs):
            fdb.append({"mac": mac(host), "vlan": 10, "port": 52, "if_index": 52, "status": "learned"})
        lldp = [
            {"chassis_id": "00:00:0c:ff:ff:ff", "port_id": f"Te1/0/{s}", "sys_name": "core", "local_port": 52}
        ]
        facts.append({"interfaces": interfaces, "fdb": fdb, "lldp": lldp})
    return facts, hosts


def bench_correlate(switches: int, macs: int, uplink_macs: int) -> None:
    facts, hosts = fleet(switches, macs, uplink_macs)
    entries = sum(len(f["fdb"]) for f in facts)
    pcs = [
        {
            "hardware": {
                "network_interfaces": [
                    {"name": "eth", "mac": mac(h), "addresses": [f"10.{h >> 8}.{h & 0xFF}.1"]}
                ]
            }
        }
        for h in hosts[: int(len(hosts) * 0.8)]
    ]
    seen = [Sighting(ip=f"10.{h >> 8}.{h & 0xFF}.1", mac=mac(h)) for h in hosts[: int(len(hosts) * 0.9)]]

    def run() -> int:
        tables = [t for i, f in enumerate(facts) if (t := switch_table(1000 + i, f"sw{i}", f)) is not None]
        known = [known_device(i, "pc", f"pc{i}", f) for i, f in enumerate(pcs)]
        result = correlate(seen, known, tables)
        return sum(h.location is not None for h in result.hosts)

    run()  # warm caches (the OUI registry is read once per process)
    started = time.perf_counter()
    located = run()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    run()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"correlate: {macs} MACs, {switches} switches, {entries} forwarding entries, {len(pcs)} agents, "
        f"{len(seen)} sightings → {located} located: {seconds:.2f} s (target ≤ 2 s), "
        f"peak allocated {peak / 2**20:.0f} MiB, process max RSS {rss:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--responders", type=int, default=100)
    parser.add_argument("--switches", type=int, default=200)
    parser.add_argument("--macs", type=int, default=10_000)
    parser.add_argument("--uplink-macs", type=int, default=2_000)
    parser.add_argument("--skip-sweep", action="store_true")
    args = parser.parse_args()
    if not args.skip_sweep:
        bench_sweep(args.responders)
    bench_correlate(args.switches, args.macs, args.uplink_macs)


if __name__ == "__main__":
    main()

"""Collector ingest rate for a simulated fleet: health reports, then changed full inventories of
300 packages, on SQLite and on PostgreSQL. The collector runs as its own process (as in production);
the load generator shares the same 2-core machine. Prints its figures.

    python -m bench.ingest [--agents 1000] [--seconds 20] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import psutil
import psycopg

from agent.runner import inventory_hash
from agent.schema.report import Inventory, SoftwarePackage
from bench.loadgen import LoadResult, build_request, run_load
from tests import factories
from tests.collector.live_server import free_port

PG_ADMIN = os.environ.get("DOZOR_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
CONNECTIONS = 32


@dataclass
class Agent:
    number: int
    token: str
    seq: int = 0
    inventory: Inventory | None = None


@contextmanager
def database(backend: str, data_dir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{data_dir / 'dozor.sqlite3'}"
        return
    name = f"dozor_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def collector(db_url: str, data_dir: Path) -> Iterator[tuple[int, psutil.Process]]:
    port = free_port()
    config = data_dir / "collector.yaml"
    config.write_text(
        f"listen: 127.0.0.1:{port}\ndata_dir: {data_dir}\nlog_level: warning\n"
        f"database: {{url: '{db_url}'}}\n"
        "auth: {admin_token: bench-admin-token-0123456789, enrollment_secret: bench-enroll-secret-0123}\n"
    )
    process = subprocess.Popen([sys.executable, "-m", "collector", "serve", "--config", str(config)])
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("collector did not start")
            time.sleep(0.2)
        yield port, psutil.Process(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def enroll(port: int, count: int) -> list[Agent]:
    agents = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        for number in range(1, count + 1):
            answer = client.post(
                "/api/v1/enroll",
                json={
                    "machine_id": factories.machine_id(number),
                    "hostname": f"PC{number}",
                    "secret": "bench-enroll-secret-0123",
                },
            )
            answer.raise_for_status()
            agents.append(Agent(number=number, token=answer.json()["token"]))
    return agents


def changed(inventory: Inventory, round_: int) -> Inventory:
    """The same PC an hour later: three packages updated, one installed, one removed."""
    software = list(inventory.software or ())
    for index in (round_ % 50, 100 + round_ % 50, 200 + round_ % 50):
        package = software[index]
        software[index] = msgspec.structs.replace(package, version=f"{package.version}.{round_}")
    software.pop(len(software) - 1 - round_ % 10)
    software.append(SoftwarePackage(name=f"Update helper {round_}", version="1.0", source="registry"))
    return msgspec.structs.replace(inventory, software=software)


def inventory_request(agent: Agent, inventory: Inventory) -> bytes:
    agent.seq += 1
    agent.inventory = inventory
    report = factories.report(
        machine=agent.number,
        seq=agent.seq,
        with_health=False,
        inv=inventory,
        inventory_hash=inventory_hash(inventory),
    )
    return build_request("127.0.0.1", "/api/v1/reports", agent.token, factories.encode(report))


def health_request(agent: Agent) -> bytes:
    agent.seq += 1
    report = factories.report(machine=agent.number, seq=agent.seq, with_health=True)
    return build_request("127.0.0.1", "/api/v1/reports", agent.token, factories.encode(report))


def measure(
    port: int, server: psutil.Process, requests: Iterator[bytes], seconds: float
) -> tuple[LoadResult, float, float]:
    """Run the load; return the result and the CPU share (of one core) used by server and load generator."""
    me = psutil.Process()
    server_cpu, my_cpu = sum(server.cpu_times()[:2]), sum(me.cpu_times()[:2])

    def next_request(_: int) -> bytes | None:
        return next(requests, None)

    result = asyncio.run(run_load("127.0.0.1", port, next_request, CONNECTIONS, seconds))
    server_share = (sum(server.cpu_times()[:2]) - server_cpu) / result.elapsed
    my_share = (sum(me.cpu_times()[:2]) - my_cpu) / result.elapsed
    return result, server_share, my_share


def show(
    label: str, unit: str, result: LoadResult, server_cpu: float, load_cpu: float, target: float | None
) -> None:
    errors = {status: count for status, count in result.statuses.items() if status != 200}
    if target is None:
        verdict = "worst case, no target"
    else:
        verdict = f"{'meets' if result.rate >= target else 'MISSES'} target {target:.0f}/s"
    problems = f"  errors {errors}" if errors else ""
    print(
        f"  {label:<34} {result.rate:8.0f} {unit}/s  p50 {result.percentile(0.5) * 1000:6.1f} ms  "
        f"p99 {result.percentile(0.99) * 1000:6.1f} ms  collector CPU {server_cpu:4.0%}  "
        f"loadgen CPU {load_cpu:4.0%}  ({verdict}){problems}"
    )


def bench_backend(backend: str, agent_count: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="dozor-bench-") as tmp:
        data_dir = Path(tmp)
        with database(backend, data_dir) as url, collector(url, data_dir) as (port, server):
            print(f"{backend}: {agent_count} agents, {CONNECTIONS} connections, {seconds:.0f} s per phase")
            agents = enroll(port, agent_count)

            first = (inventory_request(agent, factories.inventory(machine=agent.number)) for agent in agents)
            result, server_cpu, load_cpu = measure(port, server, first, seconds * 10)
            show("first inventories (300 packages)", "inv", result, server_cpu, load_cpu, None)

            health = (health_request(agents[index % agent_count]) for index in range(10**9))
            result, server_cpu, load_cpu = measure(port, server, health, seconds)
            show("health reports", "rep", result, server_cpu, load_cpu, 1000)

            prebuilt = [
                inventory_request(agent, changed(agent.inventory, round_))
                for round_ in (1, 2)
                for agent in agents
                if agent.inventory is not None
            ]
            result, server_cpu, load_cpu = measure(port, server, iter(prebuilt), seconds)
            show("changed inventories (5 of 300 pkgs)", "inv", result, server_cpu, load_cpu, 100)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        bench_backend(backend, args.agents, args.seconds)


if __name__ == "__main__":
    main()

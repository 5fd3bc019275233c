"""Backing up 200 simulated switches over SSH with the collector's own ``SshPolling``.

The switch simulator (``tests/collector/ssh/switch_sim.py``: a real paramiko SSH server per device,
each on its own loopback port with its own host key, replaying real device outputs) runs in
separate processes (``--simulators``) so that its CPU and memory are not counted as the
collector's. Platforms rotate over Cisco IOS, HP ProCurve, HP Comware, Huawei VRP and MikroTik.

Two rounds, each printing its wall time, versions stored and errors, and the collector side's
resident memory (RSS now and peak) and CPU seconds (collector side, simulators):

* ``first backup``: ``SshPolling.start()`` with a fresh SQLite store, timed until every device
  has its first version (includes the scheduler's spread of the first runs over 5 s);
* ``again, unchanged``: every device backed up once more at once (``backup_now``): no new
  version; the memory after it shows whether per-device state accumulates.

Target: 200 devices in under 60 s, memory bounded.

    python -m bench.ssh_backup [--devices 200] [--concurrency 32] [--timeout 60] [--simulators 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

from collector.sources.ssh import store
from collector.sources.ssh.config import SshConfig, SshCredential, SshDevice
from collector.sources.ssh.schedule import BackupResult, SshPolling
from collector.sources.ssh.view import BackupView
from collector.store.db import make_engine, make_sessionmaker, migrate, sqlite_url
from collector.store.models import ConfigVersion
from tests.collector.ssh.conftest import device_config, device_replies
from tests.collector.ssh.switch_sim import ENABLE_SECRET, PASSWORD, USERNAME

PLATFORMS = ("cisco_ios", "hp_procurve", "hp_comware", "huawei_vrp", "mikrotik_routeros")
TARGET_SECONDS = 60.0
MiB = 1024 * 1024


def start_simulators(
    count: int, processes: int, workdir: Path
) -> tuple[list[subprocess.Popen[str]], list[dict]]:
    """``processes`` simulator processes serving ``count`` devices between them (a paramiko server
    is CPU-bound Python: one process would be the bottleneck); returns them and one entry per device."""
    spec = {
        "platforms": list(PLATFORMS),
        "replies": {name: device_replies(name) for name in PLATFORMS},
        "configs": {name: device_config(name) for name in PLATFORMS},
    }
    started: list[subprocess.Popen[str]] = []
    for index in range(processes):
        path = workdir / f"simulator-{index}.json"
        share = count // processes + (index < count % processes)
        path.write_text(json.dumps({**spec, "count": share}))
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.collector.ssh.switch_sim", str(path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    devices: list[dict] = []
    for process in started:
        assert process.stdout is not None
        for line in process.stdout:
            entry = json.loads(line)
            if entry.get("ready"):
                break
            devices.append(entry)
        else:
            raise RuntimeError(f"a simulator stopped early (exit {process.wait()})")
    return started, devices


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def rss_mib() -> float:
    return psutil.Process().memory_info().rss / MiB


def stored_versions(sessions) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.query(ConfigVersion).count()


def show(
    label: str, seconds: float, devices: int, versions: int, errors: Counter[str], cpu: tuple[float, float]
) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{label:<18} {seconds:6.1f} s  {devices / seconds:6.1f} devices/s  versions stored {versions:>4}  "
        f"errors {dict(errors) or 0}  RSS now {rss_mib():6.1f} MiB, peak {peak:6.1f} MiB  "
        f"CPU s: collector {cpu[0]:.1f}, simulators {cpu[1]:.1f}"
    )


async def run(count: int, concurrency: int, timeout: float, processes: int, workdir: Path) -> bool:
    simulators, simulated = start_simulators(count, processes, workdir)
    own = psutil.Process()
    others = [psutil.Process(p.pid) for p in simulators]

    def cpu() -> tuple[float, float]:
        return cpu_seconds(own), sum(cpu_seconds(p) for p in others)

    try:
        engine = make_engine(sqlite_url(workdir))
        migrate(engine)
        sessions = make_sessionmaker(engine)
        config = SshConfig(
            credentials={
                "lab": SshCredential(username=USERNAME, password=PASSWORD, enable_secret=ENABLE_SECRET)
            },
            devices=[
                SshDevice(
                    address="127.0.0.1",
                    port=d["port"],
                    platform=d["platform"],
                    credential="lab",
                    name=f"sw{i}",
                )
                for i, d in enumerate(simulated)
            ],
            interval_seconds=86_400,
            timeout_seconds=timeout,
            max_concurrent_backups=concurrency,
        )
        view = BackupView()
        polling = SshPolling(config, sessions, view, poller_id="bench")
        baseline = rss_mib()
        print(
            f"{count} devices ({', '.join(PLATFORMS)}), {concurrency} sessions at once, "
            f"deadline {timeout:g} s"
        )
        print(f"collector side before the first backup: RSS {baseline:.1f} MiB")
        started, cpu_before = time.monotonic(), cpu()
        await polling.start()
        while len(view.devices()) < count and time.monotonic() - started < max(2 * TARGET_SECONDS, timeout):
            await asyncio.sleep(0.2)
        first = time.monotonic() - started
        errors = Counter(kind for state in view.devices() for kind in state.errors)
        if len(view.devices()) < count:
            errors["not_recorded"] = count - len(view.devices())
        cpu_after = cpu()
        used = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
        show("first backup", first, count, stored_versions(sessions), errors, used)

        started, cpu_before = time.monotonic(), cpu()
        results: list[BackupResult] = await asyncio.gather(
            *(polling.backup_now(device) for device in config.devices)
        )
        again = time.monotonic() - started
        errors = Counter(r.error_kind for r in results if r.error_kind)
        cpu_after = cpu()
        used = (cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1])
        show("again, unchanged", again, count, stored_versions(sessions), errors, used)
        took = sorted(r.seconds for r in results)
        print(
            f"one session (second round): median {took[len(took) // 2]:.1f} s, "
            f"95th percentile {took[int(len(took) * 0.95)]:.1f} s, longest {took[-1]:.1f} s"
        )
        new = sum(r.new_version for r in results)
        with sessions() as session:
            failing = [
                s for s in (store.ssh_status(session, r.device_id) for r in results) if s.last_error_kind
            ]
        await polling.stop()
        engine.dispose()
        ok = first < TARGET_SECONDS and not failing and new == 0 and len(view.devices()) == count
        print(
            f"target: {count} devices in under {TARGET_SECONDS:.0f} s: first round {first:.1f} s, "
            f"second {again:.1f} s; new versions on the unchanged round: {new}; "
            f"{'OK' if ok else 'MISSED'}"
        )
        return ok
    finally:
        for simulator in simulators:
            assert simulator.stdin is not None
            simulator.stdin.close()
            simulator.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=60.0, help="per-device deadline, seconds")
    parser.add_argument("--simulators", type=int, default=2, help="simulator processes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="dozor-ssh-bench-") as workdir:
        ok = asyncio.run(run(args.devices, args.concurrency, args.timeout, args.simulators, Path(workdir)))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

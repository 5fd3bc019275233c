"""One full inventory by ``dozor-agent once --print`` against ``fusioninventory-inventory`` on this
machine, side by side over several rounds: CPU time with every child process, peak RSS of the
agent's own process and of its whole process tree, and the running agent's steady idle RSS.

The agent is measured twice per round: *cold* (a fresh ``--state-dir``: the update search runs) and
*on cadence* (the same state dir again: the search's last result is reused, as in every hourly
inventory between two ``updates_interval`` runs). Targets: on cadence, CPU ≤ 0.5 × fusioninventory's
and peak RSS ≤ 30 MB.

    python -m bench.agent_vs_peers [--rounds 3] [--idle-seconds 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.collector.live_server import free_port

CPU_RATIO_TARGET = 0.5
RSS_TARGET_MB = 30.0
AGENT = [sys.executable, "-m", "agent"]
PEER = "fusioninventory-inventory"
_SAMPLE_SECONDS = 0.005


@dataclass(frozen=True)
class Run:
    cpu_s: float
    """User + system time of the process and every child it waited for (``wait4``)."""
    own_peak_mb: float
    """Peak RSS (VmHWM) of the started process itself."""
    tree_peak_mb: float
    """Highest sum of PSS over the process and its descendants, sampled every few ms (PSS, not RSS:
    a child between fork and exec shares all of Python's pages, which RSS would count twice)."""


def _hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def measure(args: list[str]) -> Run:
    """Run ``args`` to its end with stdout discarded."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = psutil.Process(process.pid)
    own = tree = 0.0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        hwm = _hwm_mb(process.pid)
        own = max(own, hwm or 0.0)
        total = 0
        try:
            for member in [root, *root.children(recursive=True)]:
                try:
                    total += member.memory_full_info().pss
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
        tree = max(tree, total / 2**20)
        time.sleep(_SAMPLE_SECONDS)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{args[0]} exited with {process.returncode}")
    return Run(usage.ru_utime + usage.ru_stime, own, max(tree, own))


def ensure_peer() -> str:
    found = shutil.which(PEER)
    if found:
        return found
    print(f"{PEER} is missing: installing Debian's fusioninventory-agent (needs root)", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "fusioninventory-agent"], check=True)
    found = shutil.which(PEER)
    if not found:
        raise SystemExit(f"{PEER} still not found after installing fusioninventory-agent")
    return found


def idle_rss_mb(seconds: float) -> float:
    """Median RSS of ``dozor-agent run`` once its first inventory is done (collector unreachable:
    reports stay in the spool; nothing else changes in the agent's steady state)."""
    with tempfile.TemporaryDirectory(prefix="dozor-idle-") as tmp:
        config = Path(tmp) / "agent.yaml"
        config.write_text(
            f"collector_url: http://127.0.0.1:{free_port()}\nstate_dir: {tmp}/state\nlog_level: error\n"
        )
        process = subprocess.Popen([*AGENT, "run", "--config", str(config)], stderr=subprocess.DEVNULL)
        try:
            spool = Path(tmp) / "state" / "spool"
            deadline = time.monotonic() + 120
            while len(list(spool.glob("*"))) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)  # the first health and inventory reports are spooled
            samples = []
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                samples.append(psutil.Process(process.pid).memory_info().rss / 2**20)
                time.sleep(0.5)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    peer = ensure_peer()
    results: dict[str, list[Run]] = {"agent, cold": [], "agent, on cadence": [], PEER: []}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="dozor-bench-") as state:
            once = [*AGENT, "once", "--print", "--state-dir", state]
            results["agent, cold"].append(measure(once))
            results["agent, on cadence"].append(measure(once))
        results[PEER].append(measure([peer]))
    print(f"{'':22} {'CPU s (min-max)':>18} {'own peak MB':>12} {'tree peak MB':>13}")
    for name, runs in results.items():
        cpu = [run.cpu_s for run in runs]
        print(
            f"{name:22} {min(cpu):8.2f}-{max(cpu):<8.2f} {max(r.own_peak_mb for r in runs):12.1f} "
            f"{max(r.tree_peak_mb for r in runs):13.1f}"
        )
    peer_cpu = statistics.median(run.cpu_s for run in results[PEER])
    for name in ("agent, cold", "agent, on cadence"):
        ratio = statistics.median(run.cpu_s for run in results[name]) / peer_cpu
        print(f"CPU ratio {name} / {PEER}: {ratio:.2f} (target ≤ {CPU_RATIO_TARGET})")
    cadence_peak = max(run.tree_peak_mb for run in results["agent, on cadence"])
    print(f"peak RSS on cadence (whole tree): {cadence_peak:.1f} MB (target ≤ {RSS_TARGET_MB:.0f} MB)")
    print(f"running agent, steady idle RSS: {idle_rss_mb(args.idle_seconds):.1f} MB")


if __name__ == "__main__":
    main()

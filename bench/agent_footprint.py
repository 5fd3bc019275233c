"""The agent's steady-state footprint at default intervals (health every 60 s, inventory hourly):
resident memory and CPU share of one core, measured on a real ``dozor-agent run`` reporting to a
real collector on loopback. Prints its figures against the targets (≤ 35 MB RSS, ≤ 0.5 % CPU).

    python -m bench.agent_footprint [--minutes 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from tests.collector.live_server import free_port

RSS_TARGET_MB = 35.0
CPU_TARGET_PERCENT = 0.5
ENROLLMENT_SECRET = "footprint-enroll-secret-0123"


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the steady-state window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dozor-footprint-") as tmp:
        data = Path(tmp)
        port = free_port()
        (data / "collector.yaml").write_text(
            f"listen: 127.0.0.1:{port}\ndata_dir: {data}\nlog_level: warning\n"
            f"auth: {{enrollment_secret: {ENROLLMENT_SECRET}}}\n"
        )
        (data / "agent.yaml").write_text(
            f"collector_url: http://127.0.0.1:{port}\nenrollment_secret: {ENROLLMENT_SECRET}\n"
            f"state_dir: {data / 'agent'}\nlog_level: warning\n"
        )
        collector = subprocess.Popen(
            [sys.executable, "-m", "collector", "serve", "--config", str(data / "collector.yaml")]
        )
        agent_process = None
        try:
            wait_for(f"http://127.0.0.1:{port}/healthz")
            started = time.monotonic()
            agent_process = subprocess.Popen(
                [sys.executable, "-m", "agent", "run", "--config", str(data / "agent.yaml")]
            )
            agent = psutil.Process(agent_process.pid)
            time.sleep(20)  # start-up: imports, enrollment, the first inventory and health reports
            startup_cpu = cpu_seconds(agent)
            elapsed = time.monotonic() - started
            print(f"agent start-up (first inventory included): {startup_cpu:.2f} s CPU in {elapsed:.0f} s")

            window = args.minutes * 60
            cpu_before, wall_before = cpu_seconds(agent), time.monotonic()
            peak_rss = 0
            while time.monotonic() - wall_before < window:
                peak_rss = max(peak_rss, agent.memory_info().rss)
                time.sleep(1)
            cpu_share = (cpu_seconds(agent) - cpu_before) / (time.monotonic() - wall_before) * 100
            rss_mb = peak_rss / 2**20
            print(f"steady state over {args.minutes:g} min at default intervals:")
            print(
                f"  peak RSS   {rss_mb:6.1f} MB   target <= {RSS_TARGET_MB:g} MB   "
                f"{'meets' if rss_mb <= RSS_TARGET_MB else 'MISSES'}"
            )
            print(
                f"  CPU        {cpu_share:6.3f} %  of one core, target <= {CPU_TARGET_PERCENT:g} %   "
                f"{'meets' if cpu_share <= CPU_TARGET_PERCENT else 'MISSES'}"
            )
        finally:
            for process in (agent_process, collector):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)


if __name__ == "__main__":
    main()

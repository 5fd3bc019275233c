"""Real servers and agents the tests start as child processes: their output goes to a file the test
reads while they run, and they are stopped the way a service manager stops them (SIGTERM)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from tests.collector.live_server import free_port, wait_for
from tests.conftest import REPO_ROOT


class LoggedProcess:
    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self._file: IO[bytes] = log.open("wb")
        self.popen = subprocess.Popen(args, cwd=REPO_ROOT, stdout=self._file, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout=60)
        finally:
            if self.popen.poll() is None:
                self.popen.kill()
                self.popen.wait()
            self._file.close()


@contextmanager
def served_collector(data_dir: Path, log: Path, *config_args: str) -> Iterator[str]:
    """``dozor-collector serve`` on loopback until the block ends; yields its URL."""
    url = f"http://127.0.0.1:{free_port()}"
    served = LoggedProcess(
        [
            sys.executable,
            "-m",
            "collector",
            "serve",
            "--data-dir",
            str(data_dir),
            "--listen",
            url[7:],
            *config_args,
        ],
        log,
    )

    def up() -> bool:
        assert served.popen.poll() is None, served.output()
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(up, 60, "the collector")
        yield url
    finally:
        served.stop()


def run_agent(config: Path, log: Path) -> LoggedProcess:
    """``dozor-agent run --config CONFIG``, as the service unit starts it."""
    return LoggedProcess([sys.executable, "-m", "agent", "run", "--config", str(config)], log)

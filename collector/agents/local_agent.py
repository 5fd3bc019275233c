"""``serve --local-agent``: run this machine's own agent next to the collector, enrolled automatically.

The agent runs as a child process (as it would on any PC), with a config written under the data
dir; if it dies it is started again after a pause.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import yaml

from collector.config import CollectorConfig

log = logging.getLogger(__name__)
RESTART_DELAY_SECONDS = 10.0


class LocalAgent:
    """This machine's agent as a service of the collector, reporting to it over loopback."""

    name = "local-agent"

    def __init__(self, config: CollectorConfig, enrollment_secret: str) -> None:
        self._config = config
        self._enrollment_secret = enrollment_secret
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config_path = local_agent_config(self._config, self._enrollment_secret)
        self._task = asyncio.create_task(supervise_agent(config_path), name="dozor-agent")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def local_agent_config(config: CollectorConfig, enrollment_secret: str) -> Path:
    """Write the local agent's config: this collector on loopback, its enrollment secret."""
    host, port = config.host_port
    scheme = "https" if config.tls.cert_file else "http"
    local_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    return write_agent_config(
        config.data_dir, f"{scheme}://{local_host}:{port}", enrollment_secret, config.tls.cert_file
    )


def write_agent_config(
    data_dir: Path, collector_url: str, enrollment_secret: str, ca_file: Path | None
) -> Path:
    agent_dir = (data_dir / "agent").resolve()
    agent_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "collector_url": collector_url,
        "enrollment_secret": enrollment_secret,
        "state_dir": str(agent_dir / "state"),
    }
    if ca_file is not None:
        config["ca_file"] = str(ca_file.resolve())
    path = agent_dir / "agent.yaml"
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


async def supervise_agent(config_path: Path) -> None:
    """Keep ``dozor-agent run`` alive until cancelled; stop it with SIGTERM then."""
    while True:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agent", "run", "--config", str(config_path)
        )
        log.info("local agent started (pid %d)", process.pid)
        try:
            code = await process.wait()
        except asyncio.CancelledError:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
            raise
        log.warning("local agent exited with %d; restarting in %.0f s", code, RESTART_DELAY_SECONDS)
        await asyncio.sleep(RESTART_DELAY_SECONDS)

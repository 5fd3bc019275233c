"""A real collector (uvicorn on a free loopback port) for API and end-to-end tests."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from collector.api import make_server
from collector.config import CollectorConfig, parse_config
from collector.runtime import Runtime, build_runtime


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """``condition()``'s first truthy value, polled until ``timeout`` seconds; fails the test after."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveCollector:
    url: str
    runtime: Runtime
    admin_token: str
    verify: ssl.SSLContext | bool = True
    """The collector's own certificate when it serves HTTPS."""

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=30,
            verify=self.verify,
        )

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, verify=self.verify)


def make_config(
    data_dir: Path, db_url: str, extra_yaml: str = "", port: int | None = None
) -> CollectorConfig:
    return parse_config(
        f"listen: 127.0.0.1:{port or free_port()}\n"
        f"data_dir: {data_dir}\n"
        f"database: {{url: '{db_url}'}}\n"
        "auth: {admin_token: admin-token-for-tests-0123456789, enrollment_secret: enroll-secret-0123456789}\n"
        f"{extra_yaml}"
    )


@contextmanager
def run_collector(config: CollectorConfig) -> Iterator[LiveCollector]:
    """Serve ``config`` in a background thread until the block ends."""
    runtime = build_runtime(config)
    host, port = config.host_port
    server = make_server(runtime)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("collector did not start")
        time.sleep(0.02)
    try:
        yield LiveCollector(
            url=f"{'https' if config.tls.cert_file else 'http'}://{host}:{port}",
            runtime=runtime,
            admin_token=config.auth.admin_token or "",
            verify=ssl.create_default_context(cafile=config.tls.cert_file) if config.tls.cert_file else True,
        )
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        runtime.engine.dispose()

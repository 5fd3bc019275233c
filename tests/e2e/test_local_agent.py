"""The README's main job, for real: ``dozor-collector serve --local-agent`` on the embedded default
shows this machine, with its inventory, posture and health, through the API and /metrics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.collector.live_server import free_port
from tests.promtool import promtool


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    data_dir = tmp_path_factory.mktemp("dozor-data")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "collector",
            "serve",
            "--local-agent",
            "--data-dir",
            str(data_dir),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        token_file = data_dir / "admin.token"
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not (token_file.exists() and _answers(f"{url}/healthz")):
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "collector did not start within 30 s"
            time.sleep(0.1)
        assert os.stat(token_file).st_mode & 0o777 == 0o600
        yield url, token_file.read_text().strip()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
        assert "Traceback" not in output, output


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def wait_for_host(url: str, token: str, timeout: float = 120) -> dict:
    """The first host once it has hardware, software, security and health — within two minutes."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout
    detail: dict = {}
    while time.monotonic() < deadline:
        hosts = httpx.get(f"{url}/api/v1/hosts", headers=headers, timeout=10).json()
        if hosts:
            detail = httpx.get(f"{url}/api/v1/hosts/{hosts[0]['id']}", headers=headers, timeout=10).json()
            if detail.get("hardware") and detail.get("health") and detail.get("software"):
                return detail
        time.sleep(1)
    pytest.fail(f"this machine did not appear with inventory and health within {timeout:.0f} s: {detail}")


def test_this_machine_appears_with_inventory_and_health(served: tuple[str, str]) -> None:
    url, token = served
    started = time.monotonic()
    host = wait_for_host(url, token)
    assert time.monotonic() - started < 120
    assert host["hostname"] == os.uname().nodename
    assert host["hardware"]["cpu"]["model"]
    assert host["hardware"]["memory"]["total_bytes"] > 0
    assert len(host["software"]) >= 100
    assert all(item["name"] and "version" in item for item in host["software"])
    assert host["security"] is not None
    assert host["health"]["memory_total_bytes"] > 0
    assert host["online"] is True


def test_metrics_show_the_host_and_pass_promtool(served: tuple[str, str]) -> None:
    url, token = served
    host = wait_for_host(url, token)
    text = httpx.get(f"{url}/metrics", timeout=10).text
    labels = f'host="{host["hostname"]}",host_id="{host["id"]}"'
    assert f"dozor_host_up{{{labels}}} 1.0" in text
    assert f"dozor_host_memory_total_bytes{{{labels}}}" in text
    assert 'dozor_fleet_hosts{state="online"} 1.0' in text
    result = promtool("check", "metrics", stdin=text)
    assert result.returncode == 0, result.stdout + result.stderr


def test_healthz_and_openapi(served: tuple[str, str]) -> None:
    url, _ = served
    assert httpx.get(f"{url}/healthz", timeout=10).text == "ok\n"
    spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
    assert {"/api/v1/reports", "/api/v1/enroll", "/api/v1/hosts", "/api/v1/hosts/{device_id}"} <= set(
        spec["paths"]
    )
    assert "Report" in spec["components"]["schemas"]

"""``dozor-collector configs …`` against a simulated switch: backup, list, show (masked unless
--raw), diff, and a changed host key refused until ``accept-host-key``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from collector.cli import main
from collector.sources.ssh.config_text import MASK
from collector.sources.ssh.session import Target
from tests.collector.ssh.switch_sim import ENABLE_SECRET, PASSWORD, SimDevice


def test_configs_command_line(
    make_device: Callable[..., tuple[SimDevice, Target]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DOZOR_TEST_SSH_PASSWORD", PASSWORD)
    monkeypatch.setenv("DOZOR_TEST_SSH_ENABLE", ENABLE_SECRET)
    device, target = make_device("cisco_ios")
    config = tmp_path / "collector.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\n"
        "ssh:\n"
        "  timeout_seconds: 15\n"
        "  credentials:\n"
        "    lab: {username: dozor, password: '${DOZOR_TEST_SSH_PASSWORD}',\n"
        "          enable_secret: '${DOZOR_TEST_SSH_ENABLE}'}\n"
        f"  devices: [{{address: 127.0.0.1, port: {target.port}, platform: cisco_ios, credential: lab,\n"
        "              name: core}]\n"
    )

    def run(*args: str) -> tuple[int, str, str]:
        status = main(["configs", "--config", str(config), *args])
        out, err = capsys.readouterr()
        return status, out, err

    status, out, err = run("backup", "core")
    assert status == 0, err
    device.config = device.config.replace("RadaRO2024", "Changed-Community-5")
    status, out, _ = run("backup", "core")
    assert status == 0 and "new version" in out and "Changed-Community-5" not in out
    status, out, _ = run("list", "core")
    assert status == 0 and len(out.splitlines()) == 2
    newest, oldest = (int(line.split()[0]) for line in out.splitlines())
    status, out, _ = run("show", "core")
    assert status == 0 and MASK in out and "Changed-Community-5" not in out
    assert "Changed-Community-5" in run("show", "core", "--raw")[1]
    assert "RadaRO2024" in run("show", "core", str(oldest), "--raw")[1]
    status, out, _ = run("diff", "core")
    assert status == 0 and f"--- version {oldest}" in out and MASK in out and "Changed-Community" not in out
    assert (
        "+snmp-server community Changed-Community-5"
        in run("diff", "core", str(oldest), str(newest), "--raw")[1]
    )

    device.new_host_key()
    status, _, err = run("backup", "core")
    assert status == 1 and "host_key_changed" in err
    status, out, _ = run("accept-host-key", "core", "--by", "ivan")
    assert status == 0 and "accepted by ivan (command line)" in out
    assert run("accept-host-key", "core")[0] == 1, "nothing left to accept"
    status, out, _ = run("backup", "core")
    assert status == 0 and "unchanged, version" in out
    status, _, err = run("list", "no-such-switch")
    assert status == 1 and "no network device" in err

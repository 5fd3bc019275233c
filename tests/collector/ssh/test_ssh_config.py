"""The ``ssh`` config section: secrets from the environment and hidden from ``repr``, mistakes
reported by key path, the store address that joins an SSH device to its SNMP entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import ConfigError, parse_config
from collector.sources.ssh.config import SshDevice
from collector.sources.ssh.schedule import store_address


def test_ssh_devices_and_secret_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOZOR_TEST_SSH_PW", "login-secret-1")
    monkeypatch.setenv("DOZOR_TEST_SSH_EN", "enable-secret-2")
    key = tmp_path / "id_ed25519"
    key.write_text("not parsed at config time\n")
    ssh = parse_config(
        "ssh:\n"
        "  credentials:\n"
        "    gear: {username: dozor, password: '${DOZOR_TEST_SSH_PW}',\n"
        "           enable_secret: '${DOZOR_TEST_SSH_EN}'}\n"
        f"    keyed: {{username: dozor, key_file: {key}}}\n"
        "  devices:\n"
        "    - {address: 192.168.1.2, platform: cisco_ios, credential: gear, name: core}\n"
        "    - {address: 'fe80::2', port: 2222, platform: mikrotik_routeros, credential: keyed}\n"
    ).ssh
    gear = ssh.credentials["gear"]
    assert (gear.password, gear.enable_secret) == ("login-secret-1", "enable-secret-2")
    shown = repr(ssh) + str(gear)
    assert "login-secret-1" not in shown and "enable-secret-2" not in shown and "username='dozor'" in shown
    assert [store_address(d) for d in ssh.devices] == ["192.168.1.2", "[fe80::2]:2222"]
    assert store_address(SshDevice(address="10.0.0.5", platform="eltex", credential="x")) == "10.0.0.5"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ssh: {credentials: {a: {username: u}}}", "ssh.credentials.a: needs a password or a key_file"),
        ("ssh: {credentials: {a: {username: u, key_file: /nonexistent/key}}}", "is not a readable file"),
        (
            "ssh: {credentials: {a: {password: p}}}",
            "ssh.credentials.a: object missing required field `username`",
        ),
        ("ssh: {credentials: {a: {username: u, password: p, pin: 1}}}", "ssh.credentials.a.pin: unknown key"),
        (
            "ssh: {credentials: {a: {username: u, password: p}},"
            " devices: [{address: h1, platform: junos, credential: a}]}",
            "ssh.devices[0].platform: unknown platform 'junos'; known: cisco_ios",
        ),
        (
            "ssh: {credentials: {a: {username: u, password: p}},"
            " devices: [{address: h1, platform: cisco_ios, credential: b}]}",
            "ssh.devices[0].credential: no credential 'b' in ssh.credentials (a)",
        ),
        (
            "ssh: {credentials: {a: {username: u, password: p}},"
            " devices: [{address: 'no host!', platform: cisco_ios, credential: a}]}",
            "ssh.devices[0].address: 'no host!' is neither an IP address nor a hostname",
        ),
        (
            "ssh: {devices: [{address: h1, credential: a}]}",
            "ssh.devices[0]: object missing required field `platform`",
        ),
        ("ssh: {timeout_seconds: 0}", "ssh.timeout_seconds: expected `float` > 0"),
        ("ssh: {max_concurrent_backups: 1000}", "ssh.max_concurrent_backups: expected `int` <= 256"),
        (
            "ssh: {credentials: {a: {username: u, password: '${DOZOR_TEST_UNSET_VARIABLE}'}}}",
            "environment variable",
        ),
    ],
)
def test_bad_ssh_config_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text, "collector.yaml")
    assert str(error.value).startswith("collector.yaml: ") and message in str(error.value)

"""The poller against a real net-snmp ``snmpd`` on 127.0.0.1: v2c, v3 SHA/AES-128 and SHA-256/AES-256.

The agent runs from its own config and persistent dir in tmp on a free port (never 161), so a
system snmpd, if any, is left alone. Wrong v3 keys must end in a named error within the deadline.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from collector.sources.snmp.poll import DevicePoll, Target, poll_device
from collector.sources.snmp.profiles import Profile, load_profiles
from collector.sources.snmp.session import Credentials
from tests.collector.snmp.conftest import free_udp_port

COMMUNITY = "dozor-snmpd-ro"
USERS = {
    "sha-aes128": Credentials(
        version="3", user="dozor128", auth_protocol="sha", auth_key="dozor-auth-128",
        priv_protocol="aes128", priv_key="dozor-priv-128",
    ),
    "sha256-aes256": Credentials(
        version="3", user="dozor256", auth_protocol="sha256", auth_key="dozor-auth-256",
        priv_protocol="aes256", priv_key="dozor-priv-256",
    ),
}
"""Test-only v3 users; net-snmp names the algorithms SHA/AES and SHA-256/AES-256."""

CONFIG = f"""\
createUser dozor128 SHA dozor-auth-128 AES dozor-priv-128
createUser dozor256 SHA-256 dozor-auth-256 AES-256 dozor-priv-256
rouser dozor128 priv
rouser dozor256 priv
rocommunity {COMMUNITY} 127.0.0.1
"""


class Agent(msgspec.Struct, frozen=True):
    """A running snmpd: its port and log."""

    port: int
    log: Path


def poll(agent: Agent, credentials: Credentials, profiles: list[Profile],
         deadline: float = 5.0) -> DevicePoll:
    """One poll_device of the agent with ``deadline`` seconds."""
    target = Target(host="127.0.0.1", port=agent.port, timeout=0.5, retries=1)
    return asyncio.run(poll_device(target, credentials, profiles, deadline))


@pytest.fixture(scope="session")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    """net-snmp's agent in the foreground with a config of our own; fails under CI if missing."""
    binary = shutil.which("snmpd") or next(
        (str(p) for p in (Path("/usr/sbin/snmpd"), Path("/sbin/snmpd")) if p.exists()), None
    )
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("snmpd is not installed (scripts/test.sh installs the Debian package snmpd)")
        pytest.skip("snmpd (Debian package snmpd) is not installed; scripts/test.sh installs it")
    home = tmp_path_factory.mktemp("snmpd")
    persistent = home / "persist"
    port = free_udp_port()
    config = home / "snmpd.conf"
    config.write_text(f"agentAddress udp:127.0.0.1:{port}\n{CONFIG}")
    log = home / "snmpd.log"
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(persistent), "MIBS": "", "MIBDIRS": str(home)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, "-f", "-Lo", "-C", "-c", str(config), "-p", str(home / "snmpd.pid")],
            stdout=output, stderr=subprocess.STDOUT, env=env,
        )
    agent = Agent(port=port, log=log)
    system = [p for p in load_profiles() if p.name == "system"]
    try:
        started = time.monotonic()
        while "system" not in poll(agent, Credentials(community=COMMUNITY), system, 3.0).facts:
            if process.poll() is not None or time.monotonic() - started > 15:
                pytest.fail(f"snmpd did not start answering: {log.read_text()[-2000:]}")
        yield agent
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def assert_linux_facts(result: DevicePoll) -> None:
    assert result.errors == {}
    assert "Linux" in result.facts["system"]["descr"]
    assert result.facts["system"]["object_id"].startswith("1.3.6.1.4.1.8072.")  # NET-SNMP-MIB
    interfaces = {interface["name"]: interface for interface in result.facts["interfaces"]}
    assert interfaces["lo"]["type"] == 24  # softwareLoopback
    assert interfaces["lo"]["oper_status"] == "up"
    assert {"system", "if-mib"} <= set(result.profiles)


def test_v2c_community(snmpd: Agent, profiles: list[Profile]) -> None:
    assert_linux_facts(poll(snmpd, Credentials(community=COMMUNITY), profiles))


@pytest.mark.parametrize("user", sorted(USERS))
def test_v3_user(snmpd: Agent, profiles: list[Profile], user: str) -> None:
    assert_linux_facts(poll(snmpd, USERS[user], profiles))


@pytest.mark.parametrize(
    ("wrong", "kinds"),
    [
        ("auth_key", {"transport"}),  # the agent's answer fails the digest check: "Wrong SNMP PDU digest"
        ("priv_key", {"timeout"}),  # the agent cannot decrypt the request and stays silent
    ],
)
def test_a_wrong_v3_key_is_a_named_error_within_the_deadline(
    snmpd: Agent, profiles: list[Profile], wrong: str, kinds: set[str]
) -> None:
    for credentials in USERS.values():
        bad = msgspec.structs.replace(credentials, **{wrong: "not-the-right-key"})
        started = time.monotonic()
        result = poll(snmpd, bad, profiles, deadline=2.0)
        assert time.monotonic() - started < 3.0
        assert result.facts == {}
        assert {error.kind for error in result.errors.values()} == kinds
        assert list(result.errors) == ["system.scalars"]

"""snmpsim serving the real recordings of ../shared/testdata/snmprec on 127.0.0.1 for the session."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from collector.pollers.snmp.poller import DevicePoll, Target, poll_device
from collector.pollers.snmp.profiles import Profile, load_profiles
from collector.pollers.snmp.session import Credentials

V3 = {"user": "dozor", "auth_key": "dozor-auth-key-1", "priv_key": "dozor-priv-key-1"}
"""The v3 user snmpsim is started with (SHA + AES-128); test-only secrets."""


class Simulator(msgspec.Struct, frozen=True):
    """A running snmpsim: its port and the recordings it serves by category (community = stem)."""

    port: int
    recordings: dict[str, list[str]]


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(port: int) -> bool:
    """Whether snmpsim answers a v2c GET of sysDescr for some recording yet."""
    credentials = Credentials(community="brother")
    poll = asyncio.run(
        poll_device(Target(host="127.0.0.1", port=port, timeout=0.3, retries=0), credentials,
                    [p for p in load_profiles() if p.name == "system"], 0.5)
    )
    return "system" in poll.facts


@pytest.fixture(scope="session")
def snmpsim(shared_testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """snmpsim-command-responder over a temp copy of the recordings (copied now, never committed)."""
    source = shared_testdata / "snmprec"
    data = tmp_path_factory.mktemp("snmprec")
    recordings: dict[str, list[str]] = {}
    for path in sorted(source.glob("*/*.snmprec")):
        shutil.copy(path, data / path.name)
        recordings.setdefault(path.parent.name, []).append(path.stem)
    port = free_udp_port()
    command = [
        str(Path(sys.executable).with_name("snmpsim-command-responder")),
        "--v3-engine-id=auto",
        f"--data-dir={data}",
        f"--cache-dir={tmp_path_factory.mktemp('snmpsim-cache')}",
        f"--agent-udpv4-endpoint=127.0.0.1:{port}",
        f"--v3-user={V3['user']}", f"--v3-auth-key={V3['auth_key']}", "--v3-auth-proto=SHA",
        f"--v3-priv-key={V3['priv_key']}", "--v3-priv-proto=AES",
        "--log-level=error",
    ]
    log = data.parent / "snmpsim.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        )
    try:
        started = time.monotonic()
        while not _answers(port):
            if process.poll() is not None or time.monotonic() - started > 20:
                pytest.fail(f"snmpsim did not start answering: {log.read_text()[-2000:]}")
        yield Simulator(port=port, recordings=recordings)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def profiles() -> list[Profile]:
    """The shipped profiles."""
    return load_profiles()


@pytest.fixture(scope="session")
def polls(snmpsim: Simulator, profiles: list[Profile]) -> dict[str, DevicePoll]:
    """Every recording polled once over v2c (community = file name), concurrently."""
    names = [name for group in snmpsim.recordings.values() for name in group]

    async def poll_all() -> list[DevicePoll]:
        target = Target(host="127.0.0.1", port=snmpsim.port, timeout=2.0)
        return await asyncio.gather(
            *(poll_device(target, Credentials(community=name), profiles, 20.0) for name in names)
        )

    return dict(zip(names, asyncio.run(poll_all()), strict=True))

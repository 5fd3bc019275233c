"""snmpsim on 127.0.0.1 serving the real recordings of ../shared/testdata/snmprec, and in a process
of its own ours (tests/fixtures/snmprec, written where no real recording exists), for the session.

Two processes, not one: snmpsim answers one request at a time, and the real recordings alone keep
it busy for most of ``polls``' deadline on a loaded machine.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import msgspec
import pytest

from collector.sources.snmp.poll import DevicePoll, Target, poll_device
from collector.sources.snmp.profiles import Profile, load_profiles
from collector.sources.snmp.session import Credentials
from tests.conftest import FIXTURES

OWN_RECORDINGS = FIXTURES / "snmprec"
"""Our recordings, one folder per category like ../shared/testdata/snmprec (community = file stem)."""

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


def _answers(port: int, community: str) -> bool:
    """Whether snmpsim answers a v2c GET of the system group of recording ``community`` yet."""
    target = Target(host="127.0.0.1", port=port, timeout=1.0, retries=0)
    system = [p for p in load_profiles() if p.name == "system"]
    poll = asyncio.run(poll_device(target, Credentials(community=community), system, 3.0))
    return "system" in poll.facts


@contextmanager
def serve_recordings(folders: Sequence[Path], workdir: Path) -> Iterator[Simulator]:
    """snmpsim-command-responder over a copy of ``folders``' ``<category>/<name>.snmprec`` files in
    ``workdir`` (copied, never committed)."""
    data = workdir / "data"
    data.mkdir()
    recordings: dict[str, list[str]] = {}
    for path in sorted(path for folder in folders for path in folder.glob("*/*.snmprec")):
        if (data / path.name).exists():
            pytest.fail(f"two recordings are named {path.stem}: the community would be ambiguous")
        shutil.copy(path, data / path.name)
        recordings.setdefault(path.parent.name, []).append(path.stem)
    port = free_udp_port()
    command = [
        str(Path(sys.executable).with_name("snmpsim-command-responder")),
        "--v3-engine-id=auto",
        f"--data-dir={data}",
        f"--cache-dir={workdir / 'cache'}",
        f"--agent-udpv4-endpoint=127.0.0.1:{port}",
        f"--v3-user={V3['user']}", f"--v3-auth-key={V3['auth_key']}", "--v3-auth-proto=SHA",
        f"--v3-priv-key={V3['priv_key']}", "--v3-priv-proto=AES",
        "--log-level=error",
    ]
    log = workdir / "snmpsim.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        )
    try:
        started = time.monotonic()
        community = next(name for names in recordings.values() for name in names)
        while not _answers(port, community):
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
def snmpsim(shared_testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """The real recordings, on one port."""
    with serve_recordings([shared_testdata / "snmprec"], tmp_path_factory.mktemp("snmpsim")) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def own_snmpsim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """Only our recordings, so no ../shared is needed."""
    with serve_recordings([OWN_RECORDINGS], tmp_path_factory.mktemp("own-snmpsim")) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def profiles() -> list[Profile]:
    """The shipped profiles."""
    return load_profiles()


def poll_recordings(simulator: Simulator, profiles: list[Profile]) -> dict[str, DevicePoll]:
    """Every recording ``simulator`` serves, polled once over v2c (community = file name), concurrently.

    snmpsim answers one request at a time, so the polls share its pace: about 18 s for the real
    recordings on a busy 2-core machine, hence a deadline well above that.
    """
    names = [name for group in simulator.recordings.values() for name in group]

    async def poll_all() -> list[DevicePoll]:
        target = Target(host="127.0.0.1", port=simulator.port, timeout=2.0)
        return await asyncio.gather(
            *(poll_device(target, Credentials(community=name), profiles, 60.0) for name in names)
        )

    return dict(zip(names, asyncio.run(poll_all()), strict=True))


@pytest.fixture(scope="session")
def polls(snmpsim: Simulator, profiles: list[Profile]) -> dict[str, DevicePoll]:
    """Every real recording polled once."""
    return poll_recordings(snmpsim, profiles)


@pytest.fixture(scope="session")
def own_polls(own_snmpsim: Simulator, profiles: list[Profile]) -> dict[str, DevicePoll]:
    """Each of our recordings polled once."""
    return poll_recordings(own_snmpsim, profiles)

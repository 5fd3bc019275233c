"""Fixtures: a namespace LAN for real sweeps; the real switch recordings polled through snmpsim."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.sources.snmp.poll import DevicePoll
from collector.sources.snmp.profiles import load_profiles
from tests.collector.discovery.netlab import Lab, netns_unavailable
from tests.collector.snmp.conftest import poll_recordings, serve_recordings

FDB_RECORDINGS = ("alaxala_ax2430s", "XMG1915-10EP")
"""The switch recordings with a Q-BRIDGE forwarding table."""


@pytest.fixture
def lab() -> Iterator[Lab]:
    """A fresh namespace LAN (see ``netlab``), deleted afterwards even if the test fails."""
    reason = netns_unavailable()
    if reason:
        pytest.skip(f"needs network namespaces: {reason}")
    built = Lab(f"dz{os.getpid() % 100000}")
    try:
        built.build()
        yield built
    finally:
        built.close()


@pytest.fixture(scope="session")
def fdb_polls(shared_testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, DevicePoll]:
    """The switch recordings that have a forwarding table, each polled once (only these: seconds, not 20)."""
    folder = tmp_path_factory.mktemp("fdb-recordings")
    (folder / "switches").mkdir()
    for name in FDB_RECORDINGS:
        (folder / "switches" / f"{name}.snmprec").symlink_to(
            shared_testdata / "snmprec" / "switches" / f"{name}.snmprec"
        )
    with serve_recordings([folder], tmp_path_factory.mktemp("fdb-snmpsim")) as simulator:
        return poll_recordings(simulator, load_profiles())

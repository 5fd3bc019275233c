"""Fixtures of the SSH poller's tests: the switch simulator and our own recorded device data."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector.sources.ssh.session import Credentials, Target
from tests.collector.ssh.switch_sim import (
    ENABLE_SECRET,
    PASSWORD,
    USERNAME,
    SimDevice,
    SwitchSimulator,
    replies_from,
)
from tests.conftest import FIXTURES, SHARED_TESTDATA

DEVICES = FIXTURES / "ssh" / "devices"
"""Our own per-platform device data: running-config.txt, secrets.txt, <command folder>/output.txt."""

CREDENTIALS = Credentials(USERNAME, PASSWORD, enable_secret=ENABLE_SECRET)


def device_replies(platform_name: str) -> dict[str, str]:
    """Replies of a simulated device: our fixtures, plus the real recordings of ../shared if present."""
    replies = replies_from(SHARED_TESTDATA / "cli" / platform_name, platform_name)
    replies.update(replies_from(DEVICES / platform_name, platform_name))
    return replies


def device_config(platform_name: str) -> str:
    return (DEVICES / platform_name / "running-config.txt").read_text()


@pytest.fixture(scope="module")
def simulator() -> Iterator[SwitchSimulator]:
    sim = SwitchSimulator()
    yield sim
    sim.close()


@pytest.fixture
def make_device(simulator: SwitchSimulator) -> Callable[..., tuple[SimDevice, Target]]:
    """A new simulated device of a platform, serving on its own port: (device, target)."""

    def make(platform_name: str, **kwargs: object) -> tuple[SimDevice, Target]:
        device = SimDevice(
            platform_name, device_config(platform_name), device_replies(platform_name), **kwargs
        )
        return device, Target("127.0.0.1", simulator.add(device))

    return make


def deadline_in(seconds: float) -> float:
    return time.monotonic() + seconds


def fixture_path(*parts: str) -> Path:
    return FIXTURES.joinpath("ssh", *parts)

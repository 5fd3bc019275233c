"""The Linux probes and the runner on this very machine: every probe keeps the module contract, the
inventory has what any Linux PC has, the whole report round-trips through the collector's decoder,
and the inventory hash stays the same between two runs."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from agent import runner
from agent.probes import HEALTH_PROBES, INVENTORY_PROBES, Probe
from agent.schema.report import SCHEMA_VERSION, Health, Inventory, ProbeError, Report

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the Linux probes run on Linux only")


INTERVALS = {"updates": 3600.0}
"""As the agent runs: the update search on its cadence, its result kept between runs."""


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> runner.ProbeCache:
    return runner.ProbeCache(tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def inventory(cache: runner.ProbeCache) -> tuple[Inventory, list[ProbeError]]:
    return runner.collect_inventory(cache=cache, intervals=INTERVALS)


LINUX_PROBES = [probe for probe in (*INVENTORY_PROBES, *HEALTH_PROBES) if probe.load("linux") is not None]


@pytest.mark.parametrize("probe", LINUX_PROBES, ids=lambda probe: probe.name)
def test_collect_returns_raw_material_under_file_names(probe: Probe) -> None:
    module = probe.load("linux")
    assert module is not None
    raw = module.collect()
    assert isinstance(raw, dict)
    for key, value in raw.items():
        # Keys become the file names of golden cases; ".bin" marks the bytes ones.
        assert isinstance(key, str) and "/" not in key and key != "expected.json"
        assert isinstance(value, bytes) if key.endswith(".bin") else isinstance(value, str)
    assert isinstance(module.parse(raw), dict)


def test_inventory_of_this_machine(inventory: tuple[Inventory, list[ProbeError]]) -> None:
    inv, errors = inventory
    hardware = inv.hardware
    assert hardware.system is not None and hardware.system.hostname
    assert hardware.os is not None and hardware.os.family == "linux" and hardware.os.kernel
    assert hardware.cpu is not None and hardware.cpu.threads and hardware.cpu.threads >= 1
    assert hardware.memory is not None and hardware.memory.total_bytes > 0
    assert hardware.disks and all(disk.size_bytes > 0 for disk in hardware.disks)
    assert hardware.network_interfaces is not None and hardware.monitors is not None
    security = inv.security
    assert security.local_admins is not None and "root" in security.local_admins
    assert security.disk_encryption and security.ssh_enabled is not None
    assert security.secure_boot is not None and security.updates is not None
    assert security.antivirus is not None
    assert [error for error in errors if error.probe != "security.firewall"] == []


@pytest.mark.skipif(not Path("/var/lib/dpkg/status").exists(), reason="not a dpkg-based system")
def test_dpkg_packages_of_this_machine(inventory: tuple[Inventory, list[ProbeError]]) -> None:
    software = inventory[0].software or []
    assert len(software) >= 100
    assert {package.source for package in software} == {"dpkg"}
    assert any(package.name == "dpkg" and package.version for package in software)


def test_health_of_this_machine() -> None:
    health, errors = runner.collect_health()
    assert isinstance(health, Health) and errors == []
    assert health.boot_time < datetime.now(UTC) and health.cpu_count >= 1
    assert health.filesystems and health.memory_total_bytes >= health.memory_available_bytes


def test_the_report_round_trips_through_the_collectors_decoder(
    inventory: tuple[Inventory, list[ProbeError]],
) -> None:
    inv, errors = inventory
    health, health_errors = runner.collect_health()
    report = Report(
        schema_version=SCHEMA_VERSION,
        machine_id="0123456789abcdef0123456789abcdef",
        seq=1,
        collected_at=datetime.now(UTC),
        agent_version="test",
        hostname=inv.hardware.system.hostname if inv.hardware.system else "unknown",
        health=health,
        inventory=inv,
        inventory_hash=runner.inventory_hash(inv),
        probe_errors=[*errors, *health_errors],
    )
    assert msgspec.json.decode(msgspec.json.encode(report), type=Report) == report


def test_the_inventory_hash_is_stable_between_runs(
    inventory: tuple[Inventory, list[ProbeError]], cache: runner.ProbeCache
) -> None:
    """The second run reuses the update search's result (and its collected_at): same hash."""
    again, _ = runner.collect_inventory(cache=cache, intervals=INTERVALS)
    assert msgspec.to_builtins(again) == msgspec.to_builtins(inventory[0])
    assert runner.inventory_hash(again) == runner.inventory_hash(inventory[0])

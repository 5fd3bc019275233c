"""The runner: one failing, hanging or misbehaving probe costs its own fields only, never the report."""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import msgspec
import psutil
import pytest

from agent import runner
from agent.probes import Probe, windows
from agent.probes.base import ProbeFailure, run_command
from agent.schema.report import Cpu, Health, SoftwarePackage, SystemInfo, Updates

RELEASE = threading.Event()
"""Hanging probes wait on this; set at teardown so their threads end."""

GOOD_HEALTH: dict[str, Any] = {
    "boot_time": "2024-12-03T04:00:00Z",
    "cpu_percent": 12.5,
    "cpu_count": 4,
    "memory_total_bytes": 8 * 2**30,
    "memory_available_bytes": 2**30,
    "swap_total_bytes": 0,
    "swap_used_bytes": 0,
}


@pytest.fixture(autouse=True)
def release_hung_probes() -> Iterator[None]:
    RELEASE.clear()
    yield
    RELEASE.set()


@pytest.fixture
def fake_probe(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Probe]:
    """A probe whose module is made up here: ``collect`` and ``parse`` as given."""

    def make(
        name: str, section: str, parse: Callable[[Any], Any], collect: Callable[[], Any] = dict
    ) -> Probe:
        module_path = f"tests.agent.fake_{name.replace('.', '_')}"
        module = ModuleType(module_path)
        module.collect = collect  # type: ignore[attr-defined]
        module.parse = parse  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module_path, module)
        return Probe(name=name, section=section, module_path=module_path)  # type: ignore[arg-type]

    return make


def _hang() -> dict[str, str]:
    RELEASE.wait(60)
    return {}


def _raise(exc: Exception) -> Callable[..., Any]:
    def fail(*_: Any) -> Any:
        raise exc

    return fail


def test_a_raising_probe_is_a_failed_error_and_the_others_stay(fake_probe: Callable[..., Probe]) -> None:
    probes = (
        fake_probe("hardware.system", "hardware", lambda _: {"system": SystemInfo(hostname="pc-01")}),
        fake_probe("hardware.cpu", "hardware", _raise(RuntimeError("boom"))),
        fake_probe("security.firewall", "security", _raise(ProbeFailure("permission", "nft needs root"))),
    )
    inventory, errors = runner.collect_inventory(probes, timeout=5)
    assert inventory.hardware.system == SystemInfo(hostname="pc-01")
    assert inventory.hardware.cpu is None and inventory.security.firewall is None
    assert [(e.probe, e.kind, e.message) for e in errors] == [
        ("hardware.cpu", "failed", "RuntimeError: boom"),
        ("security.firewall", "permission", "nft needs root"),
    ]


def test_a_hanging_probe_times_out_without_holding_up_the_others(fake_probe: Callable[..., Probe]) -> None:
    probes = (
        fake_probe("hardware.cpu", "hardware", lambda _: {}, collect=_hang),
        fake_probe("hardware.system", "hardware", lambda _: {"system": SystemInfo(hostname="pc-01")}),
    )
    started = time.monotonic()
    inventory, errors = runner.collect_inventory(probes, timeout=0.5)
    assert time.monotonic() - started < 3
    assert inventory.hardware.system is not None and inventory.hardware.cpu is None
    assert [(e.probe, e.kind) for e in errors] == [("hardware.cpu", "timeout")]


def test_more_hung_probes_than_workers_still_let_the_rest_run(fake_probe: Callable[..., Probe]) -> None:
    hung = [
        fake_probe(f"hardware.h{n}", "hardware", lambda _: {}, collect=_hang)
        for n in range(runner.WORKERS + 1)
    ]
    good = fake_probe("hardware.system", "hardware", lambda _: {"system": SystemInfo(hostname="pc-01")})
    inventory, errors = runner.collect_inventory((*hung, good), timeout=0.3)
    assert inventory.hardware.system is not None
    assert sorted(e.probe for e in errors) == sorted(p.name for p in hung)
    assert {e.kind for e in errors} == {"timeout"}


def test_a_wrong_value_costs_that_field_only(fake_probe: Callable[..., Probe]) -> None:
    probe = fake_probe(
        "hardware.cpu",
        "hardware",
        lambda _: {"cpu": "an Intel", "system": SystemInfo(hostname="pc-01"), "disks": []},
    )
    inventory, errors = runner.collect_inventory((probe,), timeout=5)
    assert inventory.hardware.system == SystemInfo(hostname="pc-01")
    assert inventory.hardware.disks == [] and inventory.hardware.cpu is None
    assert len(errors) == 1 and errors[0].kind == "failed" and errors[0].message.startswith("cpu: ")


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"cpu": Cpu(model="x", cores=0)}, "cpu: Expected `int` >= 1"),  # constraints are checked too
        ({"software": [SoftwarePackage(name="a\x00b", source="dpkg")]}, "software: "),
        ({"uptime": 5}, "uptime: not a field of the hardware section"),
        ({"cpu": object()}, "cpu: "),
    ],
)
def test_values_are_checked_against_the_schema(
    fake_probe: Callable[..., Probe], fields: dict[str, Any], fragment: str
) -> None:
    section = "inventory" if "software" in fields else "hardware"
    inventory, errors = runner.collect_inventory(
        (fake_probe("hardware.cpu", section, lambda _: fields),), timeout=5
    )
    assert inventory.hardware.cpu is None and inventory.software is None
    assert len(errors) == 1 and fragment in errors[0].message


def test_parse_must_return_a_dict(fake_probe: Callable[..., Probe]) -> None:
    _, errors = runner.collect_inventory(
        (fake_probe("hardware.cpu", "hardware", lambda _: [1, 2]),), timeout=5
    )
    assert [(e.kind, e.message) for e in errors] == [
        ("failed", "parse() returned list, not a dict of fields")
    ]


def test_a_probe_without_a_module_for_this_platform_is_skipped_silently() -> None:
    probe = Probe(
        name="software.hotfixes", section="inventory", module_path="agent.probes.software.no_such_probe"
    )
    inventory, errors = runner.collect_inventory((probe,), timeout=5)
    assert inventory.hotfixes is None and errors == []


def test_error_messages_fit_the_schema(fake_probe: Callable[..., Probe]) -> None:
    probe = fake_probe("hardware.cpu", "hardware", _raise(ValueError("x\x00" * 10_000)))
    _, errors = runner.collect_inventory((probe,), timeout=5)
    msgspec.json.decode(msgspec.json.encode(errors[0]), type=type(errors[0]))  # raises if out of bounds


def test_health_is_built_from_every_health_probe(fake_probe: Callable[..., Probe]) -> None:
    probes = (
        fake_probe("health.system", "health", lambda _: dict(GOOD_HEALTH)),
        fake_probe("health.users", "health", lambda _: {"users": []}),
        fake_probe("health.sensors", "health", _raise(OSError("no hwmon"))),
    )
    health, errors = runner.collect_health(probes, timeout=5)
    assert isinstance(health, Health) and health.cpu_count == 4 and health.users == []
    assert health.temperatures is None
    assert [e.probe for e in errors] == ["health.sensors"]


def test_health_is_none_without_its_required_fields(fake_probe: Callable[..., Probe]) -> None:
    probes = (
        fake_probe("health.system", "health", _raise(ProbeFailure("failed", "psutil gave no boot time"))),
        fake_probe("health.users", "health", lambda _: {"users": []}),
    )
    health, errors = runner.collect_health(probes, timeout=5)
    assert health is None
    assert [e.probe for e in errors] == ["health.system", "health"]
    assert "boot_time" in errors[1].message


# ---------------------------------------------------------------- one deadline per run, no orphans


def _tree_left(marker: str) -> list[psutil.Process]:
    """Processes still alive whose command line holds ``marker``."""
    left = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if (
            marker in " ".join(process.info["cmdline"] or [])
            and process.info["status"] != psutil.STATUS_ZOMBIE
        ):
            left.append(process)
    return left


def _no_orphans(marker: str, within: float = 2.0) -> bool:
    deadline = time.monotonic() + within
    while _tree_left(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.skipif(sys.platform != "linux", reason="sh, sleep and process groups")
def test_the_run_deadline_kills_a_hanging_tool_and_its_children(fake_probe: Callable[..., Probe]) -> None:
    """A tool asking for 300 s is killed, with the child it started, at the run's 1 s deadline."""
    hang = ["sh", "-c", "sleep 61.5 & sleep 61.5; wait"]
    probes = (
        fake_probe(
            "security.updates", "security", lambda raw: {}, collect=lambda: {"x": run_command(hang, 300)}
        ),
        fake_probe("hardware.system", "hardware", lambda _: {"system": SystemInfo(hostname="pc-01")}),
    )
    started = time.monotonic()
    inventory, errors = runner.collect_inventory(probes, timeout=1.0)
    assert time.monotonic() - started < 1.5
    assert inventory.hardware.system is not None
    assert [(e.probe, e.kind) for e in errors] == [("security.updates", "timeout")]
    assert _no_orphans("sleep 61.5")


@pytest.mark.skipif(sys.platform != "linux", reason="sh, sleep and process groups")
def test_a_hanging_shared_powershell_is_killed_at_the_deadline(
    fake_probe: Callable[..., Probe], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one PowerShell of a run (a stand-in script here) prints the first probe's frame, then hangs:
    that probe reports, the one waiting on the rest is a ``timeout``, and nothing is left running."""

    def stand_in(script: str) -> list[str]:
        marker = re.search(r"DOZOR-FRAME-[0-9a-f]{8}", script)
        assert marker is not None
        return [
            "sh",
            "-c",
            f"echo 'WARNING: junk'; echo '{marker[0]} 0 o [1]'; sleep 62.5 & sleep 62.5; wait",
        ]

    monkeypatch.setattr(windows, "powershell_command", stand_in)
    quick = {"quick.json": "Get-Quick"}
    slow = {"slow.json": "Get-Slow"}
    probes = (
        fake_probe(
            "hardware.cpu",
            "hardware",
            lambda raw: {"system": SystemInfo(hostname=raw["quick.json"])},
            collect=lambda: windows.powershell(quick),
        ),
        fake_probe("security.updates", "security", lambda raw: {}, collect=lambda: windows.powershell(slow)),
    )
    for probe, pipelines in zip(probes, (quick, slow), strict=True):
        sys.modules[probe.module_path].PIPELINES = pipelines  # type: ignore[attr-defined]
    started = time.monotonic()
    inventory, errors = runner.collect_inventory(probes, timeout=1.0)
    assert time.monotonic() - started < 1.5
    assert inventory.hardware.system == SystemInfo(hostname="[1]")
    assert [(e.probe, e.kind) for e in errors] == [("security.updates", "timeout")]
    assert _no_orphans("sleep 62.5")


def test_a_probe_on_a_cadence_is_reused_with_its_age_and_survives_a_restart(
    fake_probe: Callable[..., Probe], tmp_path: Any
) -> None:
    runs: list[int] = []

    def search(_: Any) -> dict[str, Any]:
        runs.append(1)
        return {"updates": Updates(pending_count=3)}

    probe = Probe(
        "security.updates",
        "security",
        fake_probe("security.updates", "security", search).module_path,
        cadence="updates",
    )
    intervals = {"updates": 3600.0}
    first, _ = runner.collect_inventory(
        (probe,), timeout=5, cache=runner.ProbeCache(tmp_path), intervals=intervals
    )
    # A new cache object: the agent restarted; the result is read back from the state dir.
    again, _ = runner.collect_inventory(
        (probe,), timeout=5, cache=runner.ProbeCache(tmp_path), intervals=intervals
    )
    assert len(runs) == 1
    assert first.security.updates is not None and first.security.updates.collected_at is not None
    assert again.security.updates == first.security.updates
    assert runner.inventory_hash(again) == runner.inventory_hash(first)
    time.sleep(1.1)  # its age counts in whole seconds
    runner.collect_inventory(
        (probe,), timeout=5, cache=runner.ProbeCache(tmp_path), intervals={"updates": 0.5}
    )
    assert len(runs) == 2

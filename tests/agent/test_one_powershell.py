"""One inventory on Windows starts ONE powershell.exe: the runner gathers every probe's declared
pipelines into one script (Get-HotFix once), with the process launcher stubbed at its boundary and
answering from the recorded outputs under tests/fixtures, so every parse() runs for real."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import psutil
import pytest

from agent import runner
from agent.probes import INVENTORY_PROBES, Probe
from agent.processes import CHILDREN
from tests.agent.fixture_cases import discover_cases
from tests.agent.test_windows_collect import FakeKey, answer_script, fake_winreg

WINDOWS_PROBES = tuple(
    Probe(
        name=probe.name,
        section=probe.section,
        module_path=f"{probe.module_path}_windows",
        cadence=probe.cadence,
    )
    for probe in INVENTORY_PROBES
    if probe.load("windows") is not None
)
"""The inventory probes as Windows loads them (their ``_windows`` modules), also on Linux."""


def recorded(label: str) -> tuple[str, Any]:
    """The frame for ``<probe>/<key>``: the key's file in the first golden case of that probe that
    has it; no instances where none has."""
    probe, _, key = label.rpartition("/")
    for case in discover_cases():
        if case.probe == probe and case.platform == "windows" and (case.path / key).is_file():
            text = (case.path / key).read_text("utf-8").lstrip("\ufeff").strip()
            return "o", json.loads(text) if text else []
    return "o", []


@pytest.fixture
def launcher(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    started: list[list[str]] = []

    def run(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        started.append(args)
        assert args[0].lower().endswith("powershell.exe"), f"a tool other than PowerShell: {args[0]}"
        return subprocess.CompletedProcess(args, 0, answer_script(args[-1], recorded), b"")

    def no_service(name: str) -> Any:
        raise psutil.NoSuchProcess(pid=0, name=name)

    monkeypatch.setattr(CHILDREN, "run", run)
    monkeypatch.setattr(psutil, "win_service_get", no_service, raising=False)
    monkeypatch.setitem(
        sys.modules, "winreg", fake_winreg({"HKEY_LOCAL_MACHINE": FakeKey(), "HKEY_USERS": FakeKey()})
    )
    return started


def test_one_inventory_starts_one_powershell(launcher: list[list[str]]) -> None:
    inventory, errors = runner.collect_inventory(WINDOWS_PROBES, timeout=30)
    assert len(launcher) == 1
    script = launcher[0][-1]
    assert script.count("{ Get-HotFix |") == 1  # shared by software.hotfixes and security.updates
    assert len(script) < 32_767
    assert [error for error in errors if error.kind == "timeout"] == []
    # Recorded outputs went through every probe's real parse() into the report.
    assert inventory.hardware.cpu is not None and inventory.hardware.system is not None
    assert inventory.hotfixes and inventory.security.firewall
    # The expensive probe's pipelines run last: a hanging update search costs only its own frames.
    assert script.rindex("security.updates/") > script.rindex("hardware.cpu/")


def test_a_probe_on_its_cadence_adds_nothing_to_the_script(launcher: list[list[str]], tmp_path: Any) -> None:
    cache = runner.ProbeCache(tmp_path)
    intervals = {"updates": 3600.0}
    first, _ = runner.collect_inventory(WINDOWS_PROBES, timeout=30, cache=cache, intervals=intervals)
    second, _ = runner.collect_inventory(WINDOWS_PROBES, timeout=30, cache=cache, intervals=intervals)
    assert len(launcher) == 2
    assert "security.updates/" in launcher[0][-1] and "security.updates/" not in launcher[1][-1]
    assert "WindowsUpdate" not in launcher[1][-1].replace("WindowsUpdate\\Auto", "")
    assert second.security.updates == first.security.updates
    assert runner.inventory_hash(second) == runner.inventory_hash(first)

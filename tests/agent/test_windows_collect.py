"""The Windows probes' collect() on Linux, with powershell.exe, winreg and the service manager faked:
the script each probe sends, how PowerShell's answer and errors come back, the registry read in
``Get-ItemProperty`` shape, and that every collect() feeds its own parse()."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import psutil
import pytest

from agent.probes import INVENTORY_PROBES
from agent.probes import windows as win
from agent.probes.base import ProbeFailure
from agent.probes.security import firewall_windows, remote_access_windows
from agent.probes.software import packages_windows, profiles_windows
from agent.processes import CHILDREN
from tests.agent.fixture_cases import Case, discover_cases
from tests.agent.windows_formats import checked, parsed

STEP = re.compile(r"Dozor-Step (\d+) '([^']*)' \{")
MARKER = re.compile(r"DOZOR-FRAME-[0-9a-f]{8}")


def answer_script(script: str, answer: Callable[[str], tuple[str, Any]]) -> bytes:
    """What the wrapper script prints: one frame per step, ``answer(label)`` giving ("o", data) or
    ("e", message); junk lines before and after, as a leaked warning or progress line would be."""
    marker = MARKER.search(script)
    assert marker is not None
    lines = ["WARNING: this line leaked onto stdout", f"{marker[0]}-not-this-run 0 o []"]
    for number, label in STEP.findall(script):
        kind, data = answer(label)
        lines.append(f"{marker[0]} {number} {kind} {json.dumps(data)}")
    lines.append("Progress: 100% complete")
    return "\r\n".join(lines).encode("ascii")


class FakePowerShell:
    """Stands in for the process launcher (``CHILDREN.run``) and answers like the wrapper script:
    each requested key gets ``answers[key]`` (default: no instances) unless ``errors`` names it."""

    def __init__(self, answers: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> None:
        self.answers = answers or {}
        self.errors = errors or {}
        self.calls: list[list[str]] = []

    def _answer(self, label: str) -> tuple[str, Any]:
        key = label.rsplit("/", 1)[-1]
        if key in self.errors:
            return "e", self.errors[key]
        return "o", self.answers.get(key, [])

    def __call__(self, args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        self.calls.append(args)
        return subprocess.CompletedProcess(args, 0, answer_script(args[-1], self._answer), b"")

    @property
    def script(self) -> str:
        return self.calls[-1][-1]


class FakeKey:
    def __init__(self, values: dict[str, Any] | None = None, keys: dict[str, FakeKey] | None = None) -> None:
        self.values = values or {}
        self.keys = keys or {}

    def __enter__(self) -> FakeKey:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def fake_winreg(hives: dict[str, FakeKey]) -> ModuleType:
    """Just enough of winreg: OpenKey (64-bit view asked for), EnumKey, EnumValue."""
    module = ModuleType("winreg")
    module.HKEY_LOCAL_MACHINE, module.HKEY_USERS = hives["HKEY_LOCAL_MACHINE"], hives["HKEY_USERS"]
    module.KEY_READ, module.KEY_WOW64_64KEY = 0x20019, 0x0100

    def open_key(parent: FakeKey, path: str, reserved: int, access: int) -> FakeKey:
        assert access & module.KEY_WOW64_64KEY, "registry reads must ask for the 64-bit view"
        key = parent
        for part in filter(None, path.split("\\")):
            if part not in key.keys:
                raise FileNotFoundError(path)
            key = key.keys[part]
        return key

    def enum_key(key: FakeKey, index: int) -> str:
        if index >= len(key.keys):
            raise OSError("no more data")
        return list(key.keys)[index]

    def enum_value(key: FakeKey, index: int) -> tuple[str, Any, int]:
        if index >= len(key.values):
            raise OSError("no more data")
        name, value = list(key.values.items())[index]
        return name, value, 1

    module.OpenKey, module.EnumKey, module.EnumValue = open_key, enum_key, enum_value
    return module


def tree(path: str, leaf: FakeKey) -> FakeKey:
    """A key holding ``leaf`` at ``path``."""
    for part in reversed(path.split("\\")):
        leaf = FakeKey(keys={part: leaf})
    return leaf


@pytest.fixture
def powershell(monkeypatch: pytest.MonkeyPatch) -> FakePowerShell:
    fake = FakePowerShell()
    monkeypatch.setattr(CHILDREN, "run", fake)
    return fake


@pytest.fixture
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        sys.modules, "winreg", fake_winreg({"HKEY_LOCAL_MACHINE": FakeKey(), "HKEY_USERS": FakeKey()})
    )


@pytest.fixture
def no_sshd(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> Any:
        raise psutil.NoSuchProcess(pid=0, name=name)

    monkeypatch.setattr(psutil, "win_service_get", missing, raising=False)


# ---------------------------------------------------------------- the PowerShell wrapper


def test_script_runs_every_pipeline_with_every_stream_but_output_silenced() -> None:
    script = win.powershell_script(
        [("a.json", "Get-Date"), ("b.json", win.cim("Win32_BIOS", "Version"))], "DOZOR-FRAME-0123abcd"
    )
    assert "Dozor-Step 0 'a.json' { Get-Date }" in script
    assert "Dozor-Step 1 'b.json' { Get-CimInstance -ClassName Win32_BIOS | Select-Object Version }" in script
    assert "@(& $block 3>$null 4>$null 5>$null 6>$null)" in script
    for preference in ("Progress", "Warning", "Information", "Verbose", "Debug"):
        assert f"${preference}Preference = 'SilentlyContinue'" in script
    assert "FullyQualifiedErrorId" in script and "'DOZOR-FRAME-0123abcd '" in script
    with pytest.raises(ValueError, match="single quotes"):
        win.powershell_script([("a.json", 'Get-Item "C:\\"')], "DOZOR-FRAME-0123abcd")


def test_cim_pipeline() -> None:
    assert win.cim(
        "WmiMonitorID", "Active", "SerialNumberID", namespace="root/wmi", where="Active = TRUE"
    ) == (
        "Get-CimInstance -Namespace root/wmi -ClassName WmiMonitorID -Filter 'Active = TRUE' "
        "| Select-Object Active, SerialNumberID"
    )


def test_powershell_is_called_by_full_path(
    powershell: FakePowerShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYSTEMROOT", r"D:\Win")
    monkeypatch.setenv("PROCESSOR_ARCHITEW6432", "AMD64")  # a 32-bit agent on 64-bit Windows
    win.powershell({"a.json": "Get-Date"})
    assert powershell.calls[0][:7] == [
        r"D:\Win\Sysnative\WindowsPowerShell\v1.0\powershell.exe",
        "-NoLogo",
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-Command",
    ]


def test_powershell_leaves_out_failed_optional_pipelines(powershell: FakePowerShell) -> None:
    powershell.answers = {"a.json": [{"X": 1}]}
    powershell.errors = {
        "b.json": "HRESULT 0x8004100e,Microsoft.Management.Infrastructure…: Invalid namespace"
    }
    assert win.powershell({"a.json": "Get-A", "b.json": "Get-B"}) == {"a.json": '[{"X": 1}]'}


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("HRESULT 0x80041003,Microsoft.Management.Infrastructure.CimCmdlets: Accès refusé", "permission"),
        ("UnauthorizedAccessException,Microsoft.SecureBoot.Commands: Access was denied", "permission"),
        ("CommandNotFoundException: The term 'Get-LocalUser' is not recognized", "missing_tool"),
        (
            "HRESULT 0x8004100e,Microsoft.Management.Infrastructure.CimCmdlets: Invalid namespace",
            "unsupported",
        ),
        (
            "System.PlatformNotSupportedException,Microsoft.SecureBoot.Commands: Cmdlet not supported",
            "unsupported",
        ),
        ("HRESULT 0x80041001,Microsoft.Management.Infrastructure.CimCmdlets: Generic failure", "failed"),
    ],
)
def test_powershell_fails_on_a_required_pipeline(powershell: FakePowerShell, error: str, kind: str) -> None:
    powershell.errors = {"a.json": error}
    with pytest.raises(ProbeFailure) as failure:
        win.powershell({"a.json": "Get-A", "b.json": "Get-B"}, required=("a.json",))
    assert failure.value.kind == kind
    assert failure.value.message.startswith("a.json: ")


def test_powershell_fails_when_nothing_answered(powershell: FakePowerShell) -> None:
    powershell.errors = {"a.json": "x: one", "b.json": "y: two"}
    with pytest.raises(ProbeFailure, match=r"a\.json: x: one"):
        win.powershell({"a.json": "Get-A", "b.json": "Get-B"})


def test_powershell_output_that_is_not_the_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    def banner(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        return subprocess.CompletedProcess(args, 0, b"Windows PowerShell\r\nCopyright", b"")

    monkeypatch.setattr(CHILDREN, "run", banner)
    with pytest.raises(ProbeFailure, match="no result"):
        win.powershell({"a.json": "Get-A"})


def test_frames_are_found_by_their_marker_among_junk_lines() -> None:
    stdout = (
        "WARNING: Get-CimInstance is slow\r\n"
        'DOZOR-FRAME-0123abcd 0 o [{"Name":"\\u0421\\u0435\\u0440\\u0432\\u0435\\u0440"}]\r\n'
        'DOZOR-FRAME-ffffffff 1 o ["another run"]\r\n'
        "Progress 50%  DOZOR-FRAME-0123abcd 1 o [1]\r\n"  # not at the start of its line
        'DOZOR-FRAME-0123abcd 1 e "HRESULT 0x8004100e: Invalid namespace"\r\n'
        'DOZOR-FRAME-0123abcd 2 o [{"cut\r\n'  # cut short by a kill
    )
    frames = win.read_frames(stdout, "DOZOR-FRAME-0123abcd")
    assert frames == {
        0: ("o", '[{"Name":"\\u0421\\u0435\\u0440\\u0432\\u0435\\u0440"}]'),
        1: ("e", "HRESULT 0x8004100e: Invalid namespace"),
    }
    assert json.loads(frames[0][1]) == [{"Name": "Сервер"}]


def test_stderr_is_read_in_the_oem_code_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Russian or Ukrainian PC's console writes cp866: the error says what PowerShell said."""
    message = "Отказано в доступе"
    assert win.decode_console(message.encode("cp866"), 866) == message
    assert win.decode_console(b"plain", None) == "plain"
    assert win.decode_console(b"ok", 99999) == "ok"  # a code page Python lacks: UTF-8

    def refused(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        return subprocess.CompletedProcess(args, 1, b"", ("powershell: " + message).encode("cp866"))

    monkeypatch.setattr(CHILDREN, "run", refused)
    monkeypatch.setattr(win, "oem_code_page", lambda: 866)
    with pytest.raises(ProbeFailure, match=f"exited with 1: powershell: {message}"):
        win.powershell({"a.json": "Get-A"})


def test_a_timeout_keeps_the_frames_printed_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
        printed = answer_script(args[-1], lambda label: ("o", [label]))
        first = b"\r\n".join(printed.split(b"\r\n")[:3])  # junk, junk, frame 0
        raise subprocess.TimeoutExpired(args, timeout, output=first, stderr=b"")

    monkeypatch.setattr(CHILDREN, "run", slow)
    shared = win.Batch({"hardware.cpu": {"a.json": "Get-A"}, "security.updates": {"b.json": "Get-B"}})
    shared.run(timeout=5)
    assert shared.answers({"a.json": "Get-A"}) == {"a.json": ("o", '["hardware.cpu/a.json"]')}
    with pytest.raises(ProbeFailure) as failure:
        shared.answers({"b.json": "Get-B"})
    assert failure.value.kind == "timeout"


def test_a_batch_runs_a_pipeline_declared_twice_once() -> None:
    shared = win.Batch(
        {"software.hotfixes": {"h.json": "Get-HotFix"}, "security.updates": {"x.json": "Get-HotFix"}}
    )
    script = win.powershell_script(shared._steps, "DOZOR-FRAME-0123abcd")
    assert script.count("Get-HotFix") == 1


# ---------------------------------------------------------------- registry reads


def test_registry_values_like_get_itemproperty(monkeypatch: pytest.MonkeyPatch) -> None:
    key = FakeKey({"": "default", "EnableLUA": 1, "Blob": b"\x01\x02", "Multi": ["a", "b"], "Other": 2})
    monkeypatch.setitem(
        sys.modules,
        "winreg",
        fake_winreg({"HKEY_LOCAL_MACHINE": tree(r"SOFTWARE\Policies\System", key), "HKEY_USERS": FakeKey()}),
    )
    assert win.registry_values(r"SOFTWARE\Policies\System") == {
        "(default)": "default",
        "EnableLUA": 1,
        "Blob": [1, 2],
        "Multi": ["a", "b"],
        "Other": 2,
        "PSChildName": "System",
    }
    assert win.registry_values(r"SOFTWARE\Policies\System", names=("EnableLUA",)) == {
        "EnableLUA": 1,
        "PSChildName": "System",
    }
    assert win.registry_values(r"SOFTWARE\Missing") is None


def test_packages_collect_reads_three_places_and_every_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """HKLM, WOW6432Node and each user profile: the logged-on one's loaded hive, an unloaded one
    mounted with reg load (and unmounted after), and one whose NTUSER.DAT is held: not read."""

    def uninstall(**programs: dict[str, Any]) -> FakeKey:
        return FakeKey(keys={key: FakeKey(values) for key, values in programs.items()})

    hklm = FakeKey(
        keys={
            "SOFTWARE": FakeKey(
                keys={
                    **tree(
                        r"Microsoft\Windows\CurrentVersion\Uninstall",
                        uninstall(
                            seven={
                                "DisplayName": "7-Zip 23.01 (x64)",
                                "DisplayVersion": "23.01",
                                "UninstallString": "u",
                            },
                            update={
                                "DisplayName": "KB1",
                                "ParentKeyName": "OperatingSystem",
                                "UninstallString": "u",
                            },
                        ),
                    ).keys,
                    **tree(
                        r"WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
                        uninstall(
                            reader={
                                "DisplayName": "Adobe Acrobat Reader",
                                "InstallDate": "20240105",
                                "UninstallString": "u",
                            },
                        ),
                    ).keys,
                }
            )
        }
    )
    user_uninstall = tree(
        r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
        uninstall(
            zoom={
                "DisplayName": "Zoom",
                "Publisher": "Zoom Video Communications, Inc.",
                "UninstallString": "u",
            },
        ),
    )
    users = FakeKey(
        keys={
            "S-1-5-21-1-2-3-1001": user_uninstall,
            "S-1-5-21-1-2-3-1001_Classes": FakeKey(),
            "S-1-5-18": user_uninstall,
            ".DEFAULT": FakeKey(),
        }
    )
    hklm.keys["SOFTWARE"].keys["Microsoft"].keys["Windows NT"] = tree(
        r"CurrentVersion\ProfileList",
        FakeKey(
            keys={
                "S-1-5-18": FakeKey({"ProfileImagePath": r"%systemroot%\system32\config\systemprofile"}),
                "S-1-5-21-1-2-3-1001": FakeKey({"ProfileImagePath": r"C:\Users\ivanova"}),
                "S-1-5-21-1-2-3-1002": FakeKey({"ProfileImagePath": r"C:\Users\petrov"}),
                "S-1-5-21-1-2-3-1003": FakeKey({"ProfileImagePath": r"C:\Users\kovalenko"}),
            }
        ),
    )
    petrov = tree(
        r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
        uninstall(telegram={"DisplayName": "Telegram Desktop", "UninstallString": "u"}),
    )
    monkeypatch.setitem(sys.modules, "winreg", fake_winreg({"HKEY_LOCAL_MACHINE": hklm, "HKEY_USERS": users}))
    reg_calls: list[tuple[str, ...]] = []

    def reg(*args: str) -> None:
        reg_calls.append(args)
        mount = args[1].removeprefix("HKU\\")
        if args[0] == "unload":
            del users.keys[mount]
        elif args[2] == r"C:\Users\petrov\NTUSER.DAT":
            users.keys[mount] = petrov
        else:
            raise ProbeFailure("failed", "reg exited with 1: ERROR: The process cannot access the file")

    monkeypatch.setattr(profiles_windows, "_reg", reg)

    raw = packages_windows.collect()
    assert json.loads(raw[packages_windows.MACHINE])[0]["PSChildName"] == "seven"
    result = parsed(packages_windows, raw)
    assert [(p.name, p.source, p.install_date, p.user) for p in result["software"]] == [
        ("7-Zip 23.01 (x64)", "registry", None, None),
        ("Adobe Acrobat Reader", "registry_wow64", "2024-01-05", None),
        ("Telegram Desktop", "registry_user", None, "S-1-5-21-1-2-3-1002"),
        # once: SYSTEM's own hive (S-1-5-18) is not a user's; no pywin32 here, so the SID names it
        ("Zoom", "registry_user", None, "S-1-5-21-1-2-3-1001"),
    ]
    assert result["software_unread_profiles"] == ["S-1-5-21-1-2-3-1003"]
    assert [call[:2] for call in reg_calls] == [
        ("load", r"HKU\Dozor_S-1-5-21-1-2-3-1002"),
        ("unload", r"HKU\Dozor_S-1-5-21-1-2-3-1002"),
        ("load", r"HKU\Dozor_S-1-5-21-1-2-3-1003"),
    ]
    assert "Dozor_S-1-5-21-1-2-3-1002" not in users.keys


def test_firewall_collect_falls_back_to_the_registry(
    monkeypatch: pytest.MonkeyPatch, powershell: FakePowerShell
) -> None:
    powershell.errors = {
        firewall_windows.NET_FIREWALL_PROFILE: "CommandNotFoundException: Get-NetFirewallProfile"
    }
    profiles = FakeKey(
        keys={
            "DomainProfile": FakeKey({"EnableFirewall": 1, "DefaultInboundAction": 1}),
            "StandardProfile": FakeKey({"EnableFirewall": 0}),
        }
    )
    hklm = tree(firewall_windows.POLICY_KEY, profiles)
    monkeypatch.setitem(
        sys.modules, "winreg", fake_winreg({"HKEY_LOCAL_MACHINE": hklm, "HKEY_USERS": FakeKey()})
    )
    raw = firewall_windows.collect()
    assert firewall_windows.NET_FIREWALL_PROFILE not in raw
    assert [(p.profile, p.enabled, p.default_inbound) for p in parsed(firewall_windows, raw)["firewall"]] == [
        ("domain", True, "block"),
        ("private", False, "unknown"),
    ]


# ---------------------------------------------------------------- every probe: collect() → parse()


@pytest.mark.usefixtures("empty_registry", "no_sshd")
@pytest.mark.parametrize("probe", INVENTORY_PROBES, ids=lambda probe: probe.name)
def test_collect_feeds_parse(probe: Any, powershell: FakePowerShell) -> None:
    """On a PC that answers every query with "no instances", collect() returns text under the keys
    parse() reads, and parse() either reports or fails as a ProbeFailure."""
    module = probe.load("windows")
    assert module is not None and module.__name__.endswith("_windows")
    raw = module.collect()
    assert raw and all(isinstance(value, str) for value in raw.values())
    for call in powershell.calls:
        assert '"' not in call[-1]
    try:
        result = parsed(module, raw)
    except ProbeFailure as failure:
        assert failure.kind == "failed"
    else:
        assert isinstance(result, dict) and result


def test_sshd_running(monkeypatch: pytest.MonkeyPatch, empty_registry: None) -> None:
    service = SimpleNamespace(name=lambda: "sshd", status=lambda: "running", start_type=lambda: "automatic")
    monkeypatch.setattr(psutil, "win_service_get", lambda name: service, raising=False)
    assert parsed(remote_access_windows, remote_access_windows.collect()) == {
        "rdp_enabled": None,
        "ssh_enabled": True,
    }


@pytest.mark.parametrize(
    "case",
    [case for case in discover_cases() if case.platform == "windows"],
    ids=lambda case: case.id,
)
def test_golden_cases_pass_the_report_schema(case: Case) -> None:
    """What parse() must return (tests/fixtures/*/windows/*/expected.json) is also a valid report part."""
    checked(case.expected())

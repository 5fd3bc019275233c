"""Windows software parsers on real recordings: registry Uninstall exports and Get-HotFix / QFE."""

from __future__ import annotations

from pathlib import Path

from agent.probes.software import hotfixes_windows, packages_windows
from tests.agent.windows_formats import (
    CNQUERY,
    GLPI_REGISTRY,
    GLPI_WMI,
    as_raw,
    cnquery_stdout,
    parsed,
    read_reg,
    read_wmic_list,
    reg_subkeys,
)

UNINSTALL = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"


def test_packages_windows_xp_full_export(shared_testdata: Path) -> None:
    entries = reg_subkeys(read_reg(shared_testdata / GLPI_REGISTRY / "xp-Uninstall.reg"), UNINSTALL)
    assert sum("DisplayName" in entry for entry in entries) == 419
    packages = parsed(packages_windows, as_raw(packages_windows.MACHINE, entries))["software"]
    # 419 named keys, but 324 are updates filed under a parent (ParentKeyName) and others are
    # system components or have no uninstall command: what Programs and Features shows is 63.
    assert len(packages) == 63
    by_name = {package.name: package for package in packages}
    firefox = by_name["Mozilla Firefox 10.0.2 (x86 en-US)"]
    assert (firefox.version, firefox.publisher, firefox.source) == ("10.0.2", "Mozilla", "registry")
    assert by_name["Adobe Reader X (10.1.2)"].install_date == "2012-02-09"
    assert by_name["Microsoft Office Professional Plus 2010"].version == "14.0.6029.1000"
    assert "Symantec Endpoint Protection" in by_name
    assert not any(name.startswith("Security Update for Windows XP") for name in by_name)
    assert [package.name for package in packages] == sorted(by_name, key=str.casefold)


def test_packages_russian_windows_10(shared_testdata: Path) -> None:
    entries = reg_subkeys(read_reg(shared_testdata / GLPI_REGISTRY / "10_russian-Uninstall.reg"), UNINSTALL)
    packages = parsed(packages_windows, as_raw(packages_windows.MACHINE, entries))["software"]
    assert [(p.name, p.version, p.publisher, p.install_date) for p in packages] == [
        ("1C Предприятие 7.7", "77.27", None, None),
        ("КриптоПро CSP", "5.0.12000", "Компания КриптоПро", "2021-07-24"),
    ]


def test_packages_get_itemproperty_with_all_null_keys(shared_testdata: Path) -> None:
    """cnquery's ``Get-ItemProperty …\\Uninstall\\* | Select-Object … | ConvertTo-Json`` over all hives."""
    raw = {
        packages_windows.MACHINE: (
            shared_testdata / CNQUERY / "core/packages/testdata/windows_packages.json"
        ).read_text("utf-8")
    }
    packages = parsed(packages_windows, raw)["software"]
    assert len(packages) == 19  # 24 keys: 4 without a name, "Microsoft Edge Update" without an uninstaller
    by_name = {package.name: package for package in packages}
    assert (
        by_name["Microsoft Visual C++ 2015-2019 Redistributable (x86) - 14.28.29913"].version
        == "14.28.29913.0"
    )
    assert by_name["Python 3.10.4 (64-bit)"].publisher == "Python Software Foundation"
    assert by_name["VMware Tools"].version == "11.3.0.18090558"
    assert "Microsoft Edge Update" not in by_name


def test_hotfixes_windows_xp_qfe_junk_rows(shared_testdata: Path) -> None:
    """XP lists some fixes as HotFixID "File 1" with the KB in ServicePackInEffect."""
    rows = read_wmic_list(shared_testdata / GLPI_WMI / "xp-Win32_QuickFixEngineering.wmi")
    hotfixes = parsed(hotfixes_windows, as_raw(hotfixes_windows.HOTFIXES, rows))["hotfixes"]
    ids = [hotfix.id for hotfix in hotfixes]
    assert "File 1" not in ids
    assert {"KB2079403", "KB2115168", "KB2121546", "KB2141007", "KB2229593"} <= set(ids)
    assert len(ids) == 16 == len(set(ids))
    by_id = {hotfix.id: hotfix for hotfix in hotfixes}
    assert by_id["KB980195"].description == "Security Update for Windows XP (KB980195)"
    assert by_id["KB980195"].installed_on == "2011-01-15"  # QFE's M/D/YYYY
    assert by_id["XpsEPSC"].installed_on is None


def test_hotfixes_get_hotfix_dates(shared_testdata: Path) -> None:
    """PowerShell 5.1 writes InstalledOn as {"value": "/Date(ms)/", "DateTime": "…"}."""
    stdout = cnquery_stdout(
        shared_testdata / CNQUERY / "core/packages/testdata/windows_2019.toml", "Get-HotFix"
    )
    hotfixes = parsed(hotfixes_windows, {hotfixes_windows.HOTFIXES: stdout})["hotfixes"]
    assert [hotfix.id for hotfix in hotfixes] == [
        "KB4462930",
        "KB4470788",
        "KB4480056",
        "KB4482887",
        "KB4486553",
        "KB4487038",
    ]
    assert {hotfix.installed_on for hotfix in hotfixes} == {"2020-09-09"}
    assert {hotfix.description for hotfix in hotfixes} == {"Update", "Security Update"}

"""The stub MSI read back with msitools: the tables Windows Installer acts on and the files it carries.

These check what a real PC would do with the package (service, upgrade rule, permissions, hidden
secret) without Windows: the Wine test runs the same package through a real MSI engine.
"""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.packaging.conftest import msiextract, project_version, run_build

UPGRADE_CODE = "{A7C5D1E2-3F4B-4C6D-9E8F-0A1B2C3D4E5F}"


def msi_table(msi: Path, table: str) -> list[dict[str, str]]:
    """``msiinfo export`` prints the column names, their types, the keys, then one row per line."""
    text = subprocess.run(
        ["msiinfo", "export", str(msi), table], check=True, capture_output=True, text=True
    ).stdout
    lines = text.replace("\r\n", "\n").split("\n")
    columns = lines[0].split("\t")
    return [dict(zip(columns, line.split("\t"), strict=False)) for line in lines[3:] if line]


def properties(msi: Path) -> dict[str, str]:
    return {row["Property"]: row["Value"] for row in msi_table(msi, "Property")}


@pytest.fixture(scope="module")
def extracted(stub_msi: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program folder as msiextract unpacks it (``Dozor Agent/...``)."""
    return msiextract(stub_msi, tmp_path_factory.mktemp("extract")) / "Dozor Agent"


def test_build_writes_named_msi_and_checksums(stub_msi: Path) -> None:
    assert stub_msi.name == f"dozor-agent-{project_version()}-x64.msi"
    sums = (stub_msi.parent / "SHA256SUMS").read_text().splitlines()
    digest = hashlib.sha256(stub_msi.read_bytes()).hexdigest()
    assert f"{digest}  {stub_msi.name}" in sums


def test_summary_is_x64_installer_5(stub_msi: Path) -> None:
    info = subprocess.run(
        ["msiinfo", "suminfo", str(stub_msi)], check=True, capture_output=True, text=True
    ).stdout
    assert "Template: x64;1033" in info
    assert "Version: 500" in info  # MsiServiceConfig and MsiLockPermissionsEx need Windows Installer 5


def test_service_is_installed_as_localsystem_auto_start(stub_msi: Path) -> None:
    (service,) = msi_table(stub_msi, "ServiceInstall")
    assert service["Name"] == "DozorAgent"
    assert service["DisplayName"] == "Dozor Agent"
    assert service["StartType"] == "2"  # SERVICE_AUTO_START; delayed by MsiServiceConfig below
    assert service["ServiceType"] == "16"  # own process
    assert service["StartName"] == "LocalSystem"
    assert service["Arguments"] == "-m agent.windows_service"
    assert service["Description"].startswith("Reports this PC")
    component = {row["Component"]: row for row in msi_table(stub_msi, "Component")}[service["Component_"]]
    files = {row["File"]: row for row in msi_table(stub_msi, "File")}
    assert files[component["KeyPath"]]["FileName"] == "python.exe"  # the service binary
    directories = {row["Directory"]: row for row in msi_table(stub_msi, "Directory")}
    assert directories[component["Directory_"]]["DefaultDir"] == "python"


def test_service_is_stopped_removed_and_started(stub_msi: Path) -> None:
    controls = {row["ServiceControl"]: row for row in msi_table(stub_msi, "ServiceControl")}
    assert {row["Name"] for row in controls.values()} == {"DozorAgent"}
    stop_remove = controls["svc_control"]
    # msidbServiceControlEvent: install stop 0x2, uninstall stop 0x20, uninstall delete 0x80.
    assert int(stop_remove["Event"]) == 0x2 | 0x20 | 0x80
    assert stop_remove["Wait"] == "1"
    start = controls["svc_start"]
    assert int(start["Event"]) == 0x1  # start on install
    assert start["Wait"] == "0"  # a service that stops at once (no config yet) must not fail the install
    components = {row["Component"]: row for row in msi_table(stub_msi, "Component")}
    assert components[start["Component_"]]["Condition"] == "NOT DOZOR_NO_START"


def test_delayed_start_and_restart_on_failure(stub_msi: Path) -> None:
    config = {row["ConfigType"]: row for row in msi_table(stub_msi, "MsiServiceConfig")}
    assert config["3"]["Name"] == "DozorAgent" and config["3"]["Argument"] == "1"  # delayed auto-start
    assert config["4"]["Argument"] == "1"  # failure actions also on a non-zero exit
    (actions,) = msi_table(stub_msi, "MsiServiceConfigFailureActions")
    assert actions["Name"] == "DozorAgent"
    assert actions["Actions"] == "1[~]1[~]1"  # SC_ACTION_RESTART three times
    assert all(int(ms) > 0 for ms in actions["DelayActions"].split("[~]"))
    sequence = {row["Action"]: row for row in msi_table(stub_msi, "InstallExecuteSequence")}
    assert (
        int(sequence["InstallServices"]["Sequence"])
        < int(sequence["MsiConfigureServices"]["Sequence"])
        < int(sequence["StartServices"]["Sequence"])
    )


def test_public_properties(stub_msi: Path) -> None:
    props = properties(stub_msi)
    secure = props["SecureCustomProperties"].split(";")
    for name in ("COLLECTOR_URL", "ENROLL_SECRET", "CA_CERT", "REMOVE_DATA"):
        assert name in secure
    assert props["REMOVE_DATA"] == "0"
    assert props["ALLUSERS"] == "1"
    assert set(props["MsiHiddenProperties"].split(";")) >= {"ENROLL_SECRET", "DozorConfigure"}


def test_configure_action_hides_secret_and_runs_as_system(stub_msi: Path) -> None:
    actions = {row["Action"]: row for row in msi_table(stub_msi, "CustomAction")}
    pack, configure = actions["DozorConfigurePack"], actions["DozorConfigure"]
    hide_target, in_script, no_impersonate = 0x2000, 0x400, 0x800
    assert int(pack["Type"]) & 0x3F == 51 and int(pack["Type"]) & hide_target
    assert pack["Source"] == "DozorConfigure"
    assert pack["Target"].endswith("|[CA_CERT]|[COLLECTOR_URL]|[ENROLL_SECRET]")
    kind = int(configure["Type"])
    assert kind & 0x7 == 5  # JScript stored in the Binary table
    assert kind & in_script and kind & no_impersonate and kind & hide_target
    assert configure["Source"] == "DozorSetupJs" and configure["Target"] == "configure"
    # Not `msiinfo export Binary`: that writes the streams into the current directory.
    streams = subprocess.run(
        ["msiinfo", "streams", str(stub_msi)], check=True, capture_output=True, text=True
    )
    assert "Binary.DozorSetupJs" in streams.stdout.split()
    script = subprocess.run(
        ["msiinfo", "extract", str(stub_msi), "Binary.DozorSetupJs"], check=True, capture_output=True
    )
    assert script.stdout == (REPO_ROOT / "packaging" / "windows" / "dozor-setup.js").read_bytes()
    sequence = {row["Action"]: row for row in msi_table(stub_msi, "InstallExecuteSequence")}
    assert (
        int(sequence["InstallFiles"]["Sequence"])
        < int(sequence["DozorConfigure"]["Sequence"])
        < int(sequence["StartServices"]["Sequence"])
    )
    assert 'NOT (REMOVE~="ALL")' in sequence["DozorConfigure"]["Condition"]


def test_remove_data_only_on_real_uninstall(stub_msi: Path) -> None:
    actions = {row["Action"]: row for row in msi_table(stub_msi, "CustomAction")}
    assert actions["DozorRemoveData"]["Target"] == "removeData"
    condition = {row["Action"]: row for row in msi_table(stub_msi, "InstallExecuteSequence")}[
        "DozorRemoveData"
    ]["Condition"]
    assert 'REMOVE_DATA="1"' in condition and "NOT UPGRADINGPRODUCTCODE" in condition


def test_major_upgrade_rule(build_msi, stub_msi: Path) -> None:
    newer = build_msi("0.1.1")
    old, new = properties(stub_msi), properties(newer)
    assert old["UpgradeCode"] == new["UpgradeCode"] == UPGRADE_CODE
    assert old["ProductCode"] != new["ProductCode"]
    assert new["ProductVersion"] == "0.1.1"
    rows = msi_table(newer, "Upgrade")
    upgrade = next(row for row in rows if row["ActionProperty"] == "WIX_UPGRADE_DETECTED")
    assert upgrade["UpgradeCode"] == UPGRADE_CODE and upgrade["VersionMax"] == "0.1.1"
    assert int(upgrade["Attributes"]) & 0x2 == 0  # not detect-only: older versions are removed
    sequence = {row["Action"]: int(row["Sequence"]) for row in msi_table(newer, "InstallExecuteSequence")}
    # The old version goes first (its service stopped and deleted), then the new files are copied.
    assert sequence["InstallValidate"] < sequence["RemoveExistingProducts"] < sequence["InstallInitialize"]


def test_codes_are_reproducible(build_msi, stub_msi: Path) -> None:
    """Same version, same ProductCode; same path, same component GUID in every version."""
    newer = build_msi("0.1.1")
    rebuilt = run_build("--python-embed-stub", "--out-dir", newer.parent / "again", "--version", "0.1.1")
    again = Path(REPO_ROOT, rebuilt.stdout.strip().splitlines()[-1])
    assert properties(again)["ProductCode"] == properties(newer)["ProductCode"]
    guids = {row["Component"]: row["ComponentId"] for row in msi_table(stub_msi, "Component")}
    assert guids == {row["Component"]: row["ComponentId"] for row in msi_table(newer, "Component")}


def test_permissions_by_sid(stub_msi: Path) -> None:
    locks = {row["LockObject"]: row for row in msi_table(stub_msi, "MsiLockPermissionsEx")}
    data, program = locks["DOZORDATA"], locks["INSTALLDIR"]
    assert data["Table"] == program["Table"] == "CreateFolder"
    # Protected DACL: SYSTEM and Administrators only, nothing inherited from ProgramData.
    assert data["SDDLText"] == "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
    assert program["SDDLText"].startswith("D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
    assert "(A;OICI;0x1200a9;;;BU)" in program["SDDLText"]  # Users: read and execute, no write
    folders = {row["Directory_"] for row in msi_table(stub_msi, "CreateFolder")}
    assert {"DOZORDATA", "INSTALLDIR", "DOZORLOGS"} <= folders
    directories = {row["Directory"]: row for row in msi_table(stub_msi, "Directory")}
    assert directories["DOZORDATA"]["Directory_Parent"] == "CommonAppDataFolder"
    assert directories["DOZORDATA"]["DefaultDir"] == "Dozor"
    assert directories["DOZORLOGS"]["DefaultDir"] == "logs"
    assert directories["INSTALLDIR"]["Directory_Parent"] == "ProgramFiles64Folder"
    assert directories["INSTALLDIR"]["DefaultDir"] == "Dozor Agent"


def test_every_file_has_own_64bit_component(stub_msi: Path) -> None:
    files = msi_table(stub_msi, "File")
    components = {row["Component"]: row for row in msi_table(stub_msi, "Component")}
    assert len({row["Component_"] for row in files}) == len(files)
    assert all(
        int(components[row["Component_"]]["Attributes"]) & 0x100 for row in files
    )  # msidbComponentAttributes64bit


def test_pth_finds_site_packages(extracted: Path) -> None:
    pth = (extracted / "python" / "python312._pth").read_bytes().decode("ascii").splitlines()
    assert pth == ["python312.zip", ".", "Lib\\site-packages", "import site"]


def test_embeddable_layout(extracted: Path) -> None:
    python = extracted / "python"
    for name in (
        "python.exe",
        "pythonw.exe",
        "python3.dll",
        "python312.dll",
        "python312.zip",
        "vcruntime140.dll",
    ):
        assert (python / name).is_file(), name
    assert zipfile.is_zipfile(python / "python312.zip")


def test_pywin32_and_dependencies(extracted: Path) -> None:
    site = extracted / "python" / "Lib" / "site-packages"
    for path in (
        "win32/servicemanager.pyd",
        "win32/win32service.pyd",
        "win32/win32event.pyd",
        "win32/lib/win32serviceutil.py",
        "win32/lib/win32evtlogutil.py",
        "pywin32_system32/pywintypes312.dll",
        "pywin32_system32/pythoncom312.dll",
        "pythonwin",
        "pywin32.pth",
        "psutil/__init__.py",
        "msgspec/__init__.py",
        "yaml/__init__.py",
    ):
        assert (site / path).exists(), path
    assert not list(site.glob("*.data")), "wheel .data directories are unpacked, not copied"
    assert not (site / "PyWin32.chm").exists()


def test_agent_package_only(extracted: Path) -> None:
    site = extracted / "python" / "Lib" / "site-packages"
    assert (site / "agent" / "__main__.py").is_file()
    assert (site / "agent" / "config.py").is_file()
    shipped = {p.relative_to(site / "agent").as_posix() for p in (site / "agent").rglob("*") if p.is_file()}
    source = {p.relative_to(REPO_ROOT / "agent").as_posix() for p in (REPO_ROOT / "agent").rglob("*.py")}
    assert shipped == {s for s in source if "__pycache__" not in s}
    everything = [p.relative_to(extracted).as_posix() for p in extracted.rglob("*")]
    assert not [p for p in everything if "/collector" in p or p.startswith("collector")]
    assert not [p for p in everything if "__pycache__" in p or p.endswith(".pyc")]
    assert not (site / "tests").exists()

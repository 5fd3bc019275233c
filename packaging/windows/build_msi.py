"""Stage the Windows agent's files and describe them to wixl (called by scripts/build-windows-msi.sh).

Two steps, each a subcommand, so the bash script stays a readable list of steps:

- ``stage``: lay out ``Dozor Agent\\python\\`` from the CPython embeddable zip (or same-named
  placeholders with ``--stub``), its ``._pth`` rewritten, the agent's win_amd64 wheels unpacked into
  ``Lib\\site-packages`` and Dozor's ``agent`` package (``.py`` files only) beside them.
- ``wxs``: write the WiX source for that tree (one component per file, GUIDs derived from the path
  so an upgrade matches old and new components) and the SQL that adds what wixl 0.101 cannot write
  itself (service delayed start and failure actions, SDDL permissions, hidden properties,
  component conditions); ``msibuild`` runs that SQL on wixl's output.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape, quoteattr

# Fixed for ever: Windows Installer recognises "an older Dozor Agent" by it (major upgrade).
UPGRADE_CODE = "A7C5D1E2-3F4B-4C6D-9E8F-0A1B2C3D4E5F"
# Namespace of every GUID derived here (product code per version, component per path).
GUID_NAMESPACE = uuid.UUID("6f1d3c2a-9b47-5e0c-8a61-2d4f7e9b1c35")

SERVICE_NAME = "DozorAgent"
SERVICE_DISPLAY = "Dozor Agent"
SERVICE_DESCRIPTION = (
    "Reports this PC's hardware, software, protection and health to the Dozor collector. "
    "Sends only; never listens on the network."
)
SERVICE_ARGUMENTS = "-m agent.windows_service"

# Only SYSTEM and Administrators, not inherited from ProgramData (which lets Users create files).
DATA_SDDL = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
# SYSTEM and Administrators full, Users read and execute (FRFX), not inherited from the parent: a
# non-default INSTALLDIR such as C:\Dozor would otherwise be writable by every user.
PROGRAM_SDDL = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"

# SC_ACTION_RESTART after 10 s, 30 s, then every 60 s; the failure count resets after a day.
FAILURE_ACTIONS = "1[~]1[~]1"
FAILURE_DELAYS_MS = "10000[~]30000[~]60000"
FAILURE_RESET_SECONDS = 86_400

PUBLIC_PROPERTIES = ("COLLECTOR_URL", "ENROLL_SECRET", "CA_CERT", "REMOVE_DATA", "DOZOR_NO_START")

# Files of the official embeddable zip that the stub imitates (names only; contents are text).
STUB_FILES = (
    "python.exe",
    "pythonw.exe",
    "python3.dll",
    "python{tag}.dll",
    "vcruntime140.dll",
    "vcruntime140_1.dll",
    "LICENSE.txt",
    "_asyncio.pyd",
    "_bz2.pyd",
    "_ctypes.pyd",
    "_decimal.pyd",
    "_hashlib.pyd",
    "_lzma.pyd",
    "_overlapped.pyd",
    "_queue.pyd",
    "_socket.pyd",
    "_sqlite3.pyd",
    "_ssl.pyd",
    "_uuid.pyd",
    "_wmi.pyd",
    "_zoneinfo.pyd",
    "libcrypto-3.dll",
    "libffi-8.dll",
    "libssl-3.dll",
    "pyexpat.pyd",
    "select.pyd",
    "sqlite3.dll",
    "unicodedata.pyd",
    "winsound.pyd",
)
STUB_TEXT = (
    "Dozor stub: a placeholder with the name of a file of the CPython embeddable zip, not a program.\r\n"
)

# Not needed on an office PC: pywin32's help file (2.6 MB) and wheel scripts/headers.
SKIPPED_WHEEL_FILES = re.compile(r"(^|/)PyWin32\.chm$|^[^/]+\.data/(scripts|headers|data)/")


def pth_text(tag: str) -> str:
    """``import site`` is what makes pywin32.pth (win32, pywin32_system32 DLLs) take effect."""
    return f"python{tag}.zip\r\n.\r\nLib\\site-packages\r\nimport site\r\n"


# --- stage -----------------------------------------------------------------------------------------


def _embed_tag(names: list[str]) -> str:
    tags = {m.group(1) for n in names if (m := re.fullmatch(r"python(3\d+)\._pth", n))}
    if len(tags) != 1 or "python.exe" not in names:
        raise SystemExit(
            "not a CPython embeddable zip: expected python.exe and one python3XX._pth at its root"
        )
    return tags.pop()


def stage_python(python_dir: Path, embed: Path | None, stub_tag: str) -> str:
    """Unpack the embeddable zip (or write the stub) into ``python_dir``; returns the tag, e.g. ``312``."""
    python_dir.mkdir(parents=True)
    if embed is not None:
        with zipfile.ZipFile(embed) as archive:
            tag = _embed_tag(archive.namelist())
            archive.extractall(python_dir)
    else:
        tag = stub_tag
        for name in STUB_FILES:
            (python_dir / name.format(tag=tag)).write_text(STUB_TEXT, encoding="ascii")
        with zipfile.ZipFile(python_dir / f"python{tag}.zip", "w") as archive:
            archive.writestr("README.txt", STUB_TEXT)
    (python_dir / f"python{tag}._pth").write_text(pth_text(tag), encoding="ascii", newline="")
    return tag


def unpack_wheel(wheel: Path, site_packages: Path) -> None:
    """A wheel is a zip; ``*.data/purelib`` and ``platlib`` belong at the site-packages root."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir() or SKIPPED_WHEEL_FILES.search(name):
                continue
            parts = PurePosixPath(name).parts
            if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in ("purelib", "platlib"):
                parts = parts[2:]
            if any(part in ("", ".", "..") for part in parts):
                raise SystemExit(f"{wheel.name}: refusing the path {name!r}")
            target = site_packages.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)


def copy_agent(agent_src: Path, site_packages: Path) -> None:
    """The agent package only: its ``.py`` files, never bytecode, the collector or the tests."""
    for source in sorted(agent_src.rglob("*.py")):
        relative = source.relative_to(agent_src)
        if "__pycache__" in relative.parts:
            continue
        target = site_packages / "agent" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def cmd_stage(args: argparse.Namespace) -> None:
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    python_dir = out / "python"
    tag = stage_python(python_dir, args.embed, args.stub_tag)
    site_packages = python_dir / "Lib" / "site-packages"
    site_packages.mkdir(parents=True)
    wheels = sorted(args.wheels.glob("*.whl"))
    if not wheels:
        raise SystemExit(f"no wheels in {args.wheels}")
    for wheel in wheels:
        unpack_wheel(wheel, site_packages)
    copy_agent(args.agent_src, site_packages)
    print(tag)


# --- wxs -------------------------------------------------------------------------------------------


def derived_guid(kind: str, key: str) -> str:
    """Same input, same GUID: rebuilding a version gives the same codes, upgrades match components."""
    return str(uuid.uuid5(GUID_NAMESPACE, f"{kind}:{key}")).upper()


def product_code(version: str) -> str:
    return derived_guid("product", version)


def _ident(prefix: str, relative: str) -> str:
    """MSI identifiers are at most 72 characters of [A-Za-z0-9_.]: a hash of the path."""
    return f"{prefix}{hashlib.sha1(relative.lower().encode()).hexdigest()[:24]}"


@dataclass
class Tree:
    """A staged directory: its files and sub-directories, in a stable (sorted) order."""

    name: str
    relative: str
    files: list[str]
    dirs: list[Tree]


def scan(root: Path, relative: str = "") -> Tree:
    here = root / relative if relative else root
    files, dirs = [], []
    for entry in sorted(here.iterdir(), key=lambda p: p.name.lower()):
        rel = f"{relative}/{entry.name}" if relative else entry.name
        if entry.is_dir():
            dirs.append(scan(root, rel))
        else:
            files.append(rel)
    return Tree(here.name, relative, files, dirs)


# Stable ids for the rows other tables refer to.
PYTHON_EXE_ID = "python_exe"
SERVICE_COMPONENT = "c_python_exe"
START_COMPONENT = "c_service_start"
INSTALLDIR_COMPONENT = "c_installdir"
DATA_COMPONENT = "c_data"
LOGS_COMPONENT = "c_data_logs"


def _file_component(stage: Path, relative: str, components: list[str]) -> str:
    source = quoteattr((stage / relative).as_posix())
    name = quoteattr(PurePosixPath(relative).name)
    if relative == "python/python.exe":
        components.append(SERVICE_COMPONENT)
        guid = derived_guid("component", relative)
        return f"""<Component Id="{SERVICE_COMPONENT}" Guid="{guid}" Win64="yes">
  <File Id="{PYTHON_EXE_ID}" Name={name} Source={source} KeyPath="yes"/>
  <ServiceInstall Id="svc_install" Name="{SERVICE_NAME}" DisplayName="{SERVICE_DISPLAY}"
      Description={quoteattr(SERVICE_DESCRIPTION)} Type="ownProcess" Start="auto" ErrorControl="normal"
      Account="LocalSystem" Arguments="{SERVICE_ARGUMENTS}" Vital="yes"/>
  <ServiceControl Id="svc_control" Name="{SERVICE_NAME}" Stop="both" Remove="uninstall" Wait="yes"/>
</Component>"""
    component = _ident("c", relative)
    components.append(component)
    return (
        f'<Component Id="{component}" Guid="{derived_guid("component", relative)}" Win64="yes">'
        f'<File Id="{_ident("f", relative)}" Name={name} Source={source} KeyPath="yes"/></Component>'
    )


def _directory(stage: Path, tree: Tree, components: list[str]) -> str:
    parts = [_file_component(stage, f, components) for f in tree.files]
    parts += [
        f'<Directory Id="{_ident("d", sub.relative)}" Name={quoteattr(sub.name)}>\n'
        + _directory(stage, sub, components)
        + "\n</Directory>"
        for sub in tree.dirs
    ]
    return "\n".join(parts)


def render_wxs(stage: Path, version: str, setup_js: Path) -> str:
    components: list[str] = []
    program = _directory(stage, scan(stage), components)
    extra = [INSTALLDIR_COMPONENT, START_COMPONENT, DATA_COMPONENT, LOGS_COMPONENT]
    refs = "\n".join(f'<ComponentRef Id="{c}"/>' for c in extra + components)
    js = quoteattr(setup_js.as_posix())
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!-- Generated by packaging/windows/build_msi.py for Dozor Agent {escape(version)}; do not edit. -->
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
<Product Id="{product_code(version)}" Name="Dozor Agent" Language="1033" Codepage="1252"
    Version="{escape(version)}" Manufacturer="Dozor" UpgradeCode="{UPGRADE_CODE}">
<Package InstallerVersion="500" Compressed="yes" InstallScope="perMachine"
    Description="Dozor Agent {escape(version)}" Comments="Inventory and health agent for Dozor"/>
<MediaTemplate EmbedCab="yes"/>
<MajorUpgrade DowngradeErrorMessage="A newer version of Dozor Agent is already installed."/>
<Property Id="REMOVE_DATA" Value="0"/>
<Property Id="ARPNOMODIFY" Value="1"/>
<Property Id="ARPNOREPAIR" Value="1"/>
<Binary Id="DozorSetupJs" SourceFile={js}/>

<!-- Deferred actions see only CustomActionData: these immediate actions pack it. -->
<CustomAction Id="DozorConfigurePack" Property="DozorConfigure"
    Value="[CommonAppDataFolder]Dozor\\|[CA_CERT]|[COLLECTOR_URL]|[ENROLL_SECRET]"/>
<CustomAction Id="DozorConfigure" BinaryKey="DozorSetupJs" JScriptCall="configure"
    Execute="deferred" Impersonate="no" Return="check"/>
<CustomAction Id="DozorRemoveDataPack" Property="DozorRemoveData" Value="[CommonAppDataFolder]Dozor\\"/>
<CustomAction Id="DozorRemoveData" BinaryKey="DozorSetupJs" JScriptCall="removeData"
    Execute="deferred" Impersonate="no" Return="check"/>
<InstallExecuteSequence>
  <!-- Numbers, not Before/After: wixl 0.101 misplaces After="InstallFiles". agent.yaml is written
       once files (4000) and service (5800, 5850) are in place, just before StartServices (5900). -->
  <Custom Action="DozorConfigurePack" Sequence="1450">{CONFIGURE_CONDITION}</Custom>
  <Custom Action="DozorRemoveDataPack" Sequence="1460">{REMOVE_DATA_CONDITION}</Custom>
  <Custom Action="DozorConfigure" Sequence="5880">{CONFIGURE_CONDITION}</Custom>
  <Custom Action="DozorRemoveData" Sequence="6590">{REMOVE_DATA_CONDITION}</Custom>
</InstallExecuteSequence>

<Directory Id="TARGETDIR" Name="SourceDir">
  <Directory Id="ProgramFiles64Folder">
    <Directory Id="INSTALLDIR" Name="Dozor Agent">
      <Component Id="{INSTALLDIR_COMPONENT}" Guid="{derived_guid("component", "INSTALLDIR")}" Win64="yes">
        <CreateFolder/>
      </Component>
      <Component Id="{START_COMPONENT}" Guid="{derived_guid("component", "service-start")}" Win64="yes">
        <RegistryValue Root="HKLM" Key="Software\\Dozor\\Agent" Name="StartServiceOnInstall" Type="integer"
            Value="1" KeyPath="yes"/>
        <ServiceControl Id="svc_start" Name="{SERVICE_NAME}" Start="install" Wait="no"/>
      </Component>
{program}
    </Directory>
  </Directory>
  <Directory Id="CommonAppDataFolder">
    <Directory Id="DOZORDATA" Name="Dozor">
      <Component Id="{DATA_COMPONENT}" Guid="{derived_guid("component", "DOZORDATA")}" Win64="yes">
        <CreateFolder/>
      </Component>
      <Directory Id="DOZORLOGS" Name="logs">
        <Component Id="{LOGS_COMPONENT}" Guid="{derived_guid("component", "DOZORLOGS")}" Win64="yes">
          <CreateFolder/>
        </Component>
      </Directory>
    </Directory>
  </Directory>
</Directory>

<Feature Id="Agent" Level="1" Title="Dozor Agent">
{refs}
</Feature>
</Product>
</Wix>
"""


# Write agent.yaml only when told something; never on removal. An upgrade without properties keeps
# the existing file because nothing then touches it.
CONFIGURE_CONDITION = escape('(COLLECTOR_URL OR ENROLL_SECRET OR CA_CERT) AND NOT (REMOVE~="ALL")')
# Only a real uninstall asked for it; the old product's removal inside a major upgrade never.
REMOVE_DATA_CONDITION = escape('REMOVE~="ALL" AND REMOVE_DATA="1" AND NOT UPGRADINGPRODUCTCODE')

# msidbCustomActionTypeHideTarget: neither CustomActionData nor the formatted target goes to the log.
HIDE_TARGET = 0x2000


def _sql_string(value: str) -> str:
    if "'" in value:
        raise ValueError(f"no quotes in MSI SQL literals: {value!r}")
    return f"'{value}'"


def render_sql() -> str:
    """What wixl 0.101 has no element for, as SQL statements for ``msibuild -q`` (one per line)."""
    s = _sql_string
    statements = [
        # Windows Installer 5.0 tables: delayed automatic start, restart on failure (and on a
        # non-zero exit, FAILURE_ACTIONS_FLAG), applied by MsiConfigureServices.
        "CREATE TABLE `MsiServiceConfig` (`MsiServiceConfig` CHAR(72) NOT NULL, `Name` CHAR(255) NOT NULL,"
        " `Event` SHORT NOT NULL, `ConfigType` LONG NOT NULL, `Argument` LONGCHAR,"
        " `Component_` CHAR(72) NOT NULL PRIMARY KEY `MsiServiceConfig`)",
        "INSERT INTO `MsiServiceConfig` (`MsiServiceConfig`, `Name`, `Event`, `ConfigType`, `Argument`,"
        f" `Component_`) VALUES ('svc_delayed_start', {s(SERVICE_NAME)}, 1, 3, '1', {s(SERVICE_COMPONENT)})",
        "INSERT INTO `MsiServiceConfig` (`MsiServiceConfig`, `Name`, `Event`, `ConfigType`, `Argument`,"
        f" `Component_`) VALUES ('svc_failure_flag', {s(SERVICE_NAME)}, 1, 4, '1', {s(SERVICE_COMPONENT)})",
        "CREATE TABLE `MsiServiceConfigFailureActions` (`MsiServiceConfigFailureActions` CHAR(72) NOT NULL,"
        " `Name` CHAR(255) NOT NULL, `Event` SHORT NOT NULL, `ResetPeriod` LONG, `RebootMessage` CHAR(255),"
        " `Command` CHAR(255), `Actions` LONGCHAR, `DelayActions` LONGCHAR, `Component_` CHAR(72) NOT NULL"
        " PRIMARY KEY `MsiServiceConfigFailureActions`)",
        "INSERT INTO `MsiServiceConfigFailureActions` (`MsiServiceConfigFailureActions`, `Name`, `Event`,"
        " `ResetPeriod`, `Actions`, `DelayActions`, `Component_`) VALUES ('svc_failure_actions',"
        f" {s(SERVICE_NAME)}, 1, {FAILURE_RESET_SECONDS}, {s(FAILURE_ACTIONS)}, {s(FAILURE_DELAYS_MS)},"
        f" {s(SERVICE_COMPONENT)})",
        "INSERT INTO `InstallExecuteSequence` (`Action`, `Condition`, `Sequence`)"
        " VALUES ('MsiConfigureServices', 'VersionNT >= 600', 5850)",
        # SDDL by well-known SID (SY, BA, BU): the classic LockPermissions table names accounts, and
        # "Administrators" is spelled differently on a Ukrainian Windows.
        "CREATE TABLE `MsiLockPermissionsEx` (`MsiLockPermissionsEx` CHAR(72) NOT NULL,"
        " `LockObject` CHAR(72) NOT NULL, `Table` CHAR(32) NOT NULL, `SDDLText` LONGCHAR NOT NULL,"
        " `Condition` CHAR(255) PRIMARY KEY `MsiLockPermissionsEx`)",
        "INSERT INTO `MsiLockPermissionsEx` (`MsiLockPermissionsEx`, `LockObject`, `Table`, `SDDLText`)"
        f" VALUES ('lock_data', 'DOZORDATA', 'CreateFolder', {s(DATA_SDDL)})",
        "INSERT INTO `MsiLockPermissionsEx` (`MsiLockPermissionsEx`, `LockObject`, `Table`, `SDDLText`)"
        f" VALUES ('lock_program', 'INSTALLDIR', 'CreateFolder', {s(PROGRAM_SDDL)})",
        # The secret and the action data carrying it never appear in a log.
        "INSERT INTO `Property` (`Property`, `Value`) VALUES ('MsiHiddenProperties',"
        " 'ENROLL_SECRET;DozorConfigure')",
        f"UPDATE `CustomAction` SET `Type` = {51 | HIDE_TARGET} WHERE `Action` = 'DozorConfigurePack'",
        # JScript from the Binary table (5), deferred (0x400), as LocalSystem (0x800).
        f"UPDATE `CustomAction` SET `Type` = {5 | 0x400 | 0x800 | HIDE_TARGET}"
        " WHERE `Action` = 'DozorConfigure'",
        # A test prefix (Wine, placeholder interpreter) passes DOZOR_NO_START=1; a real PC never does.
        f"UPDATE `Component` SET `Condition` = 'NOT DOZOR_NO_START' WHERE `Component` = '{START_COMPONENT}'",
    ]
    return "\n".join(statements) + "\n"


def secure_properties(existing: str) -> str:
    """Public properties passed from the command line must be secure to reach the server side."""
    names = [n for n in existing.split(";") if n]
    names += [p for p in PUBLIC_PROPERTIES if p not in names]
    return ";".join(names)


def cmd_wxs(args: argparse.Namespace) -> None:
    if not re.fullmatch(r"\d{1,3}\.\d{1,3}\.\d{1,5}", args.version):
        raise SystemExit(f"MSI ProductVersion must be numeric a.b.c (major, minor < 256): {args.version!r}")
    # wixl finds sources only by relative paths (from the directory it runs in: the repository).
    relative = [Path(os.path.relpath(p)) for p in (args.stage, args.setup_js)]
    wxs = render_wxs(relative[0], args.version, relative[1])
    args.out.write_text(wxs, encoding="utf-8")
    args.sql.write_text(render_sql(), encoding="utf-8")


def cmd_secure(args: argparse.Namespace) -> None:
    print(secure_properties(args.existing))


def cmd_codes(args: argparse.Namespace) -> None:
    """The package code changes with the content; the product code only with the version."""
    digest = hashlib.sha256(args.version.encode())
    for path in sorted(p for p in args.stage.rglob("*") if p.is_file()):
        digest.update(path.relative_to(args.stage).as_posix().encode() + b"\0" + path.read_bytes())
    print(product_code(args.version), "{" + derived_guid("package", digest.hexdigest()) + "}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    stage = commands.add_parser("stage", help="lay out the program files")
    source = stage.add_mutually_exclusive_group(required=True)
    source.add_argument("--embed", type=Path, help="the CPython embeddable zip (amd64)")
    source.add_argument("--stub", dest="stub_tag", help="placeholder interpreter for this tag, e.g. 312")
    stage.add_argument("--wheels", type=Path, required=True)
    stage.add_argument("--agent-src", type=Path, required=True)
    stage.add_argument("--out", type=Path, required=True)
    stage.set_defaults(func=cmd_stage)
    wxs = commands.add_parser("wxs", help="write the .wxs and the post-processing SQL")
    wxs.add_argument("--stage", type=Path, required=True)
    wxs.add_argument("--version", required=True)
    wxs.add_argument("--setup-js", type=Path, required=True)
    wxs.add_argument("--out", type=Path, required=True)
    wxs.add_argument("--sql", type=Path, required=True)
    wxs.set_defaults(func=cmd_wxs)
    secure = commands.add_parser("secure", help="SecureCustomProperties with the public properties added")
    secure.add_argument("existing", nargs="?", default="")
    secure.set_defaults(func=cmd_secure)
    codes = commands.add_parser("codes", help="print the product code and the package code")
    codes.add_argument("--stage", type=Path, required=True)
    codes.add_argument("--version", required=True)
    codes.set_defaults(func=cmd_codes)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())

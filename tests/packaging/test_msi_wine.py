"""Install, upgrade and remove the stub MSI with Wine's msiexec: a real MSI engine, a throwaway prefix.

What Wine cannot show, and why the tables test covers it instead: the placeholder python.exe cannot
run, so the install passes DOZOR_NO_START=1 (the start component's condition; a real PC starts the
service); Wine does not apply MsiLockPermissionsEx, MsiServiceConfig* or MsiHiddenProperties.
The configuration custom action is JScript, so it runs here exactly as on Windows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.packaging.conftest import missing_tool

pytestmark = pytest.mark.slow

SECRET = "enrol me|now \\ \u0433"  # a "|" (the data separator), a backslash and a non-ASCII letter
COLLECTOR = "https://dozor.example.lan:8470"
UNINSTALL_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall"
SERVICE_KEY = r"HKLM\System\CurrentControlSet\Services\DozorAgent"


def wine_binary() -> str:
    for name in ("wine", "wine64"):
        if found := shutil.which(name):
            return found
    missing_tool("Wine is not installed (Debian packages wine, wine64)")


@dataclass
class Prefix:
    """One throwaway Windows: C:\\ is ``root / "drive_c"``."""

    root: Path
    env: dict[str, str]
    wine: str

    @property
    def program(self) -> Path:
        return self.root / "drive_c" / "Program Files" / "Dozor Agent"

    @property
    def data(self) -> Path:
        return self.root / "drive_c" / "ProgramData" / "Dozor"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Output goes through files: Wine's background processes would keep a pipe open for ever."""
        out, err = self.root.parent / "wine.out", self.root.parent / "wine.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            returncode = subprocess.run(
                [self.wine, *args], env=self.env, stdout=stdout, stderr=stderr, timeout=300, check=False
            ).returncode
        result = subprocess.CompletedProcess(
            args, returncode, out.read_text(errors="replace"), err.read_text(errors="replace")
        )
        if check and returncode != 0:
            log = self.root / "drive_c" / "msi.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"wine {' '.join(args)} exited {returncode}\n{result.stderr}\n{tail}")
        return result

    def msiexec(self, *args: str | Path) -> None:
        """``msiexec ... /qn`` with a verbose log at C:\\msi.log."""
        converted = [f"Z:{a}".replace("/", "\\") if isinstance(a, Path) else a for a in args]
        self.run("msiexec", *converted, "/qn", "/l*v", "C:\\msi.log")

    def reg_query(self, key: str) -> str | None:
        result = self.run("reg", "query", key, check=False)
        return result.stdout if result.returncode == 0 else None


@pytest.fixture(scope="module")
def wine_prefix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prefix]:
    """One booted prefix for the module: ``wineboot`` is most of the time these tests take."""
    wine = wine_binary()
    tmp_path = tmp_path_factory.mktemp("wine")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(
        WINEPREFIX=str(tmp_path / "prefix"),
        WINEARCH="win64",
        WINEDEBUG="-all",
        LANG="C.UTF-8",  # argv reaches Wine as UTF-8
        # No Mono/Gecko install prompts, no menu entries written to $HOME.
        WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d",
    )
    wineserver = shutil.which("wineserver") or "/usr/lib/wine/wineserver64"
    started = time.monotonic()
    # A persistent wineserver for this prefix (it forks to the background); otherwise each wine
    # command after a few idle seconds waits for a new one to start.
    (tmp_path / "prefix").mkdir()
    subprocess.run(
        [wineserver, "-p"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
        check=True,
    )  # no pipes: the daemon would hold them open
    try:
        prefix = Prefix(tmp_path / "prefix", env, wine)
        prefix.run("wineboot", "-i")
        print(f"wineboot: {time.monotonic() - started:.1f} s")
        yield prefix
    finally:  # this prefix's server and every Windows process in it
        subprocess.run(
            [wineserver, "-k"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60
        )


@pytest.fixture
def prefix(wine_prefix: Prefix, build_msi: Callable[[str | None], Path]) -> Prefix:
    """The shared prefix with no Dozor Agent installed and no ProgramData\\Dozor."""
    for version in ("0.1.0", "0.1.1"):
        if wine_prefix.reg_query(f"{UNINSTALL_KEY}\\{product_code(build_msi(version))}") is not None:
            wine_prefix.msiexec("/x", build_msi(version))
    shutil.rmtree(wine_prefix.data, ignore_errors=True)
    assert not wine_prefix.program.exists()
    return wine_prefix


def product_code(msi: Path) -> str:
    table = subprocess.run(
        ["msiinfo", "export", str(msi), "Property"], check=True, capture_output=True, text=True
    )
    return next(line.split("\t")[1] for line in table.stdout.splitlines() if line.startswith("ProductCode\t"))


def read_yaml(path: Path) -> dict[str, object]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_install_upgrade_uninstall_keeps_data(
    prefix: Prefix, build_msi: Callable[[str | None], Path]
) -> None:
    old, new = build_msi("0.1.0"), build_msi("0.1.1")
    ca = prefix.root / "drive_c" / "ca-bundle.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")

    started = time.monotonic()
    prefix.msiexec(
        "/i",
        old,
        "DOZOR_NO_START=1",
        f"COLLECTOR_URL={COLLECTOR}",
        f"ENROLL_SECRET={SECRET}",
        "CA_CERT=C:\\ca-bundle.pem",
    )
    print(f"install: {time.monotonic() - started:.1f} s")
    assert (prefix.program / "python" / "python.exe").is_file()
    assert (prefix.program / "python" / "Lib" / "site-packages" / "agent" / "__main__.py").is_file()
    assert (prefix.program / "python" / "Lib" / "site-packages" / "win32" / "servicemanager.pyd").is_file()
    assert (prefix.data / "logs").is_dir()
    config = read_yaml(prefix.data / "agent.yaml")
    assert config == {"collector_url": COLLECTOR, "enrollment_secret": SECRET, "ca_file": "ca.pem"}
    assert (prefix.data / "ca.pem").read_text() == ca.read_text()
    service = prefix.reg_query(SERVICE_KEY)
    assert service is not None, "DozorAgent is not registered"
    assert "python\\python.exe -m agent.windows_service" in service
    assert "LocalSystem" in service
    assert "0x2" in service.split("Start")[1].splitlines()[0]  # automatic
    assert prefix.reg_query(f"{UNINSTALL_KEY}\\{product_code(old)}") is not None

    # The agent's own state, as if it had enrolled; and a program file changed on disk.
    (prefix.data / "token").write_text("per-host token")
    (prefix.data / "spool").mkdir()
    (prefix.data / "spool" / "000001.json").write_text("{}")
    yaml_before = (prefix.data / "agent.yaml").read_bytes()
    main = prefix.program / "python" / "Lib" / "site-packages" / "agent" / "__main__.py"
    main.write_text("tampered")
    (prefix.program / "python" / "pythonw.exe").unlink()

    started = time.monotonic()
    prefix.msiexec("/i", new, "DOZOR_NO_START=1")  # no properties: the config must stay as it is
    print(f"upgrade: {time.monotonic() - started:.1f} s")
    assert prefix.reg_query(f"{UNINSTALL_KEY}\\{product_code(old)}") is None, (
        "the old version was not removed"
    )
    assert "0.1.1" in (prefix.reg_query(f"{UNINSTALL_KEY}\\{product_code(new)}") or "")
    assert main.read_text() != "tampered", "program files were not replaced"
    assert (prefix.program / "python" / "pythonw.exe").is_file()
    assert (prefix.data / "agent.yaml").read_bytes() == yaml_before
    assert (prefix.data / "token").read_text() == "per-host token"
    assert (prefix.data / "spool" / "000001.json").is_file()
    assert prefix.reg_query(SERVICE_KEY) is not None

    started = time.monotonic()
    prefix.msiexec("/x", new)
    print(f"uninstall: {time.monotonic() - started:.1f} s")
    assert not prefix.program.exists(), sorted(p.name for p in prefix.program.rglob("*"))[:20]
    assert prefix.reg_query(SERVICE_KEY) is None, "DozorAgent is still registered"
    assert prefix.reg_query(f"{UNINSTALL_KEY}\\{product_code(new)}") is None
    assert (prefix.data / "agent.yaml").read_bytes() == yaml_before
    assert (prefix.data / "token").is_file() and (prefix.data / "spool" / "000001.json").is_file()


def test_properties_on_upgrade_rewrite_config_and_remove_data(
    prefix: Prefix, build_msi: Callable[[str | None], Path]
) -> None:
    old, new = build_msi("0.1.0"), build_msi("0.1.1")
    prefix.msiexec("/i", old, "DOZOR_NO_START=1")
    assert prefix.data.is_dir()
    assert not (prefix.data / "agent.yaml").exists(), "no properties, no agent.yaml"

    prefix.msiexec("/i", new, "DOZOR_NO_START=1", f"COLLECTOR_URL={COLLECTOR}")
    assert read_yaml(prefix.data / "agent.yaml") == {"collector_url": COLLECTOR}
    (prefix.data / "token").write_text("per-host token")

    prefix.msiexec("/x", new, "REMOVE_DATA=1")
    assert not prefix.program.exists()
    assert not prefix.data.exists(), "REMOVE_DATA=1 must remove ProgramData\\Dozor"

"""The build script's guards (which interpreter zip it accepts, which versions) and its staging rules."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO_ROOT
from tests.packaging.conftest import missing_tool, msiextract, require_msi_tools, run_build


def load_build_msi() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_msi", REPO_ROOT / "packaging" / "windows" / "build_msi.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


build_msi = load_build_msi()


@pytest.fixture
def fake_embed(tmp_path: Path) -> Path:
    """Shaped like python-3.13.x-embed-amd64.zip (names and the stock ._pth), but not it."""
    path = tmp_path / "python-3.13.99-embed-amd64.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("python.exe", "pythonw.exe", "python3.dll", "python313.dll", "vcruntime140.dll"):
            archive.writestr(name, b"MZ not really")
        archive.writestr("python313.zip", b"")
        archive.writestr(
            "python313._pth", "python313.zip\r\n.\r\n\r\n# Uncomment to run site.main()\r\n#import site\r\n"
        )
    return path


def test_unknown_zip_is_refused(fake_embed: Path, tmp_path: Path) -> None:
    require_msi_tools()
    result = run_build("--python-embed", fake_embed, "--out-dir", tmp_path / "out", check=False)
    assert result.returncode == 2
    assert "is not in packaging/windows/python-embed.sha256" in result.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.msi"))


def test_wrong_sha256_is_refused(fake_embed: Path, tmp_path: Path) -> None:
    require_msi_tools()
    result = run_build(
        "--python-embed", fake_embed, "--sha256", "00" * 32, "--out-dir", tmp_path, check=False
    )
    assert result.returncode == 2
    assert hashlib.sha256(fake_embed.read_bytes()).hexdigest() in result.stderr


def test_given_sha256_builds_with_that_interpreter(fake_embed: Path, tmp_path: Path) -> None:
    require_msi_tools()
    digest = hashlib.sha256(fake_embed.read_bytes()).hexdigest()
    result = run_build("--python-embed", fake_embed, "--sha256", digest.upper(), "--version", "0.9.0",
                       "--out-dir", tmp_path / "out")  # fmt: skip
    msi = Path(REPO_ROOT, result.stdout.strip().splitlines()[-1])
    assert msi.name == "dozor-agent-0.9.0-x64.msi"
    msiextract(msi, tmp_path / "x")
    python = tmp_path / "x" / "Dozor Agent" / "python"
    assert (python / "python.exe").read_bytes() == b"MZ not really"  # the zip's file, not a stub
    assert (python / "python313._pth").read_text().splitlines() == [
        "python313.zip",
        ".",
        "Lib\\site-packages",
        "import site",
    ]
    assert (python / "Lib" / "site-packages" / "pywin32_system32" / "pywintypes313.dll").is_file()


def test_allow_unknown_python_warns(fake_embed: Path, tmp_path: Path) -> None:
    require_msi_tools()
    result = run_build("--python-embed", fake_embed, "--allow-unknown-python", "--out-dir", tmp_path)
    assert "WARNING" in result.stderr and "not a pinned CPython zip" in result.stderr


def test_not_an_embeddable_zip(tmp_path: Path) -> None:
    require_msi_tools()
    bogus = tmp_path / "bogus.zip"
    with zipfile.ZipFile(bogus, "w") as archive:
        archive.writestr("readme.txt", "hello")
    result = run_build("--python-embed", bogus, "--allow-unknown-python", "--out-dir", tmp_path, check=False)
    assert result.returncode == 2 and "not a CPython embeddable zip" in result.stderr


@pytest.mark.parametrize("version", ["1.2", "1.2.3.4", "0.1.0rc1", "v1.0.0"])
def test_version_must_be_numeric(version: str, tmp_path: Path) -> None:
    require_msi_tools()
    result = run_build("--python-embed-stub", "--version", version, "--out-dir", tmp_path, check=False)
    assert result.returncode == 2 and "numeric A.B.C" in result.stderr


def test_pinned_list_format() -> None:
    for line in (REPO_ROOT / "packaging" / "windows" / "python-embed.sha256").read_text().splitlines():
        if line and not line.startswith("#"):
            digest, name = line.split("  ")
            assert len(digest) == 64 and int(digest, 16) >= 0
            assert name.startswith("python-3.1") and name.endswith("-embed-amd64.zip")


def test_requirements_are_pinned_with_hashes() -> None:
    text = (REPO_ROOT / "packaging" / "windows" / "requirements-agent-win.txt").read_text()
    pins = [line for line in text.splitlines() if line and not line.startswith(("#", " "))]
    assert {pin.split("==")[0] for pin in pins} == {"psutil", "msgspec", "pyyaml", "pywin32"}
    assert all("==" in pin and pin.endswith("\\") for pin in pins)  # each followed by --hash lines


def test_wheel_data_dirs_are_unpacked_to_site_packages(tmp_path: Path) -> None:
    wheel = tmp_path / "demo-1.0-cp312-cp312-win_amd64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo/__init__.py", "")
        archive.writestr("demo-1.0.data/platlib/demo_ext.pyd", "x")
        archive.writestr("demo-1.0.data/purelib/demo.pth", "demo")
        archive.writestr("demo-1.0.data/scripts/demo_postinstall.py", "")
        archive.writestr("PyWin32.chm", "help")
    build_msi.unpack_wheel(wheel, tmp_path / "site")
    found = sorted(
        p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("*") if p.is_file()
    )
    assert found == ["demo.pth", "demo/__init__.py", "demo_ext.pyd"]


def test_wheel_with_escaping_path_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("../outside.py", "")
    with pytest.raises(SystemExit, match="refusing"):
        build_msi.unpack_wheel(wheel, tmp_path / "site")


def test_guids_are_derived_not_random() -> None:
    assert build_msi.product_code("0.1.0") == build_msi.product_code("0.1.0")
    assert build_msi.product_code("0.1.0") != build_msi.product_code("0.1.1")
    assert build_msi.derived_guid("component", "python/python.exe") == build_msi.derived_guid(
        "component", "python/python.exe"
    )


def test_secure_properties_keeps_wixl_ones() -> None:
    merged = build_msi.secure_properties("WIX_UPGRADE_DETECTED;WIX_DOWNGRADE_DETECTED").split(";")
    assert merged[:2] == ["WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"]
    assert {"COLLECTOR_URL", "ENROLL_SECRET", "CA_CERT", "REMOVE_DATA"} <= set(merged)


def test_signed_with_osslsigncode(tmp_path: Path) -> None:
    require_msi_tools()
    if shutil.which("osslsigncode") is None:
        missing_tool("osslsigncode not installed (Debian package osslsigncode)")
    cert, key = tmp_path / "sign.crt", tmp_path / "sign.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=Dozor test signing", "-addext", "extendedKeyUsage=codeSigning"],
        check=True, capture_output=True,
    )  # fmt: skip
    result = run_build(
        "--python-embed-stub", "--out-dir", tmp_path / "out", "--sign-cert", cert, "--sign-key", key
    )
    msi = Path(REPO_ROOT, result.stdout.strip().splitlines()[-1])
    verify = subprocess.run(
        ["osslsigncode", "verify", "-CAfile", str(cert), "-in", str(msi)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    sums = (msi.parent / "SHA256SUMS").read_text()
    assert hashlib.sha256(msi.read_bytes()).hexdigest() in sums  # the checksum is of the signed file

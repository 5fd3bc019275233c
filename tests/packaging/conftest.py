"""Builds of the Windows MSI shared by the packaging tests: one stub build per version per session."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from tests.conftest import REPO_ROOT

BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-windows-msi.sh"
MSI_TOOLS = ("wixl", "msibuild", "msiinfo", "msiextract")


def project_version() -> str:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def missing_tool(reason: str) -> NoReturn:
    """Skip where a tool is absent; under CI (which installs it) that is a failure, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; scripts/test.sh installs it")
    pytest.skip(f"{reason}; run scripts/test.sh")


def require_msi_tools() -> None:
    missing = [tool for tool in MSI_TOOLS if shutil.which(tool) is None]
    if missing:
        missing_tool(f"{', '.join(missing)} not installed (Debian packages wixl, msitools)")


def run_build(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The build script as an admin runs it; its wheel cache under build/ keeps reruns offline."""
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT), *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"build failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def msiextract(msi: Path, target: Path) -> Path:
    """Unpack the files into ``target``; run there, since msiextract writes Binary streams to its cwd."""
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run(["msiextract", "-C", ".", str(msi.resolve())], cwd=target, check=True, capture_output=True)
    return target


@pytest.fixture(scope="session")
def build_msi(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str | None], Path]:
    """``build_msi(version)`` → the stub MSI of that version (None: pyproject's), built once."""
    require_msi_tools()
    out_dir = tmp_path_factory.mktemp("msi")
    built: dict[str | None, Path] = {}

    def build(version: str | None = None) -> Path:
        if version not in built:
            args: list[str | Path] = ["--python-embed-stub", "--out-dir", out_dir]
            if version is not None:
                args += ["--version", version]
            result = run_build(*args)
            msi = Path(REPO_ROOT, result.stdout.strip().splitlines()[-1])
            assert re.fullmatch(r"dozor-agent-\d+\.\d+\.\d+-x64\.msi", msi.name), result.stdout
            built[version] = msi
        return built[version]

    return build


@pytest.fixture(scope="session")
def stub_msi(build_msi: Callable[[str | None], Path]) -> Path:
    return build_msi(None)

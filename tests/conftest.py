"""Fixtures shared by every test package."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures"
SHARED_TESTDATA = REPO_ROOT.parent / "shared" / "testdata"


@pytest.fixture(scope="session")
def shared_testdata() -> Path:
    """The real-device recordings in ``../shared/testdata`` (never copied into this repo)."""
    if not SHARED_TESTDATA.is_dir():
        pytest.skip(f"real-device test data not found at {SHARED_TESTDATA} (../shared is absent)")
    return SHARED_TESTDATA


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (cert.pem, key.pem)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=dozor-test",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key

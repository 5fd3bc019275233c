"""Fixtures shared by every test package."""

from __future__ import annotations

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

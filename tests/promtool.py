"""Run Debian's ``promtool``; absent only on a developer's machine that skipped the test setup."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(
                "promtool is not installed (Debian package 'prometheus'); scripts/test.sh installs it"
            )
        pytest.skip("promtool is not installed (Debian package 'prometheus'); run scripts/test.sh")
    return subprocess.run(
        [binary, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )

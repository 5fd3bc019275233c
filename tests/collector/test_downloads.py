"""``/downloads/``: a PC on the LAN gets the installers from the collector alone, checks them with
``sha256sum -c``, and nothing outside the configured folder (or hidden in it) is ever served."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.collector.live_server import LiveCollector, make_config, run_collector

MSI = b"MSI\x00" + os.urandom(3 * 1024 * 1024)
WHEEL = b"PK\x03\x04 wheel"
CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[LiveCollector, Path]]:
    folder = tmp_path / "downloads"
    (folder / "wheelhouse").mkdir(parents=True)
    (folder / "dozor-agent-0.1.0-x64.msi").write_bytes(MSI)
    (folder / "wheelhouse" / "dozor-0.1.0-py3-none-any.whl").write_bytes(WHEEL)
    (folder / "ca.pem").write_bytes(CA)
    (folder / ".admin-notes").write_text("not for the LAN", encoding="utf-8")
    (folder / "SHA256SUMS").write_text("0" * 64 + "  stale.msi\n", encoding="utf-8")
    (tmp_path / "secret.yaml").write_text("enrollment_secret: hush", encoding="utf-8")
    (folder / "escape.yaml").symlink_to(tmp_path / "secret.yaml")
    extra = f"downloads: {{directory: '{folder}'}}\n"
    with run_collector(make_config(tmp_path / "data", f"sqlite:///{tmp_path / 'dozor.db'}", extra)) as live:
        yield live, folder


def test_the_files_are_listed_served_and_check_out_with_sha256sum(
    served: tuple[LiveCollector, Path], tmp_path: Path
) -> None:
    live, _ = served
    client = live.client()  # no token: a PC being installed has none
    page = client.get("/downloads/")
    assert page.status_code == 200
    assert "Файли для встановлення агента" in page.text
    for name in ("dozor-agent-0.1.0-x64.msi", "wheelhouse/dozor-0.1.0-py3-none-any.whl", "ca.pem"):
        assert f'href="{name}"' in page.text
    assert hashlib.sha256(MSI).hexdigest() in page.text
    assert ".admin-notes" not in page.text and "escape.yaml" not in page.text
    assert "installing the agent" in client.get("/downloads/?lang=en").text

    sums = client.get("/downloads/SHA256SUMS")
    assert sums.status_code == 200
    assert "stale.msi" not in sums.text, "the checksums are computed from the folder, not copied"
    assert len(sums.text.splitlines()) == 3

    fetched = tmp_path / "fetched"
    (fetched / "wheelhouse").mkdir(parents=True)
    (fetched / "SHA256SUMS").write_text(sums.text, encoding="utf-8")
    for line in sums.text.splitlines():
        name = line.split("  ", 1)[1]
        answer = client.get(f"/downloads/{name}")
        assert answer.status_code == 200, name
        digest = base64.b64encode(hashlib.sha256(answer.content).digest()).decode()
        assert answer.headers["repr-digest"] == f"sha-256=:{digest}:"
        (fetched / name).write_bytes(answer.content)
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=fetched, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    msi = client.get("/downloads/dozor-agent-0.1.0-x64.msi")
    assert msi.headers["content-disposition"] == 'attachment; filename="dozor-agent-0.1.0-x64.msi"'


@pytest.mark.parametrize(
    "path",
    [
        ".admin-notes",
        "escape.yaml",
        "../secret.yaml",
        "..%2fsecret.yaml",
        "wheelhouse/../../secret.yaml",
        "wheelhouse/..%2F..%2Fsecret.yaml",
        "%2e%2e/secret.yaml",
        "..\\secret.yaml",
        "wheelhouse",
        "nothing-here.msi",
        "ca.pem%00.txt",
    ],
)
def test_nothing_outside_or_hidden_is_served(served: tuple[LiveCollector, Path], path: str) -> None:
    live, _ = served
    answer = httpx.get(f"{live.url}/downloads/{path}", timeout=10)
    assert answer.status_code == 404, (path, answer.text)
    assert "hush" not in answer.text


def test_a_file_replaced_gets_its_new_checksum(served: tuple[LiveCollector, Path]) -> None:
    live, folder = served
    before = live.client().get("/downloads/SHA256SUMS").text
    (folder / "ca.pem").write_bytes(CA + b"\n")
    after = live.client().get("/downloads/SHA256SUMS").text
    assert hashlib.sha256(CA + b"\n").hexdigest() in after
    assert before != after


def test_without_a_folder_downloads_answer_404(tmp_path: Path) -> None:
    with run_collector(make_config(tmp_path, f"sqlite:///{tmp_path / 'dozor.db'}")) as live:
        answer = live.client().get("/downloads/")
    assert answer.status_code == 404
    assert answer.json()["error"] == "downloads_not_configured"

"""``dozor-agent`` as a user meets it: ``once --print``, ``enroll``, and one-line errors."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from agent.runner import inventory_hash
from agent.schema.report import Report
from agent.state import CREDENTIALS_FILE
from agent.transport import ENROLL_PATH
from tests.agent.test_transport import Answer, Peer, closed_port
from tests.conftest import REPO_ROOT


def dozor_agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def peer() -> Iterator[Peer]:
    with Peer() as server:
        yield server


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


def test_once_print_prints_one_valid_full_report_and_sends_nothing() -> None:
    done = dozor_agent("once", "--print")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = msgspec.json.Decoder(Report).decode(done.stdout)  # the collector's own strict decoder
    assert done.stdout.startswith('{\n  "schema_version"')
    assert report.seq == 1
    assert report.health is not None
    assert report.inventory is not None
    assert report.inventory_hash == inventory_hash(report.inventory)
    assert report.hostname


def test_once_needs_print() -> None:
    done = dozor_agent("once")
    assert done.returncode == 2
    assert "--print" in done.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "collector_url: https://c\nhealth_interval: 60s\n",
            "config error at health_interval: expected int, got str",
        ),
        (
            "collector_url: http://192.0.2.1\n",
            "config error at collector_url: plain http to a non-loopback host",
        ),
        ("collector_url: https://c\nspool: big\n", "config error at spool: unknown key"),
    ],
)
@pytest.mark.parametrize("command", ["run", "enroll"])
def test_config_errors_are_one_line_and_exit_2(tmp_path: Path, command: str, text: str, message: str) -> None:
    path = config_file(tmp_path, text)
    done = dozor_agent(command, "--config", str(path))
    assert done.returncode == 2
    assert done.stderr.startswith(f"dozor-agent: {path}: {message}")
    assert done.stderr.count("\n") == 1


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    done = dozor_agent("run", "--config", str(tmp_path / "absent.yaml"))
    assert done.returncode == 2
    assert "cannot read" in done.stderr
    assert done.stderr.count("\n") == 1


def test_enroll_keeps_a_private_token(peer: Peer, tmp_path: Path) -> None:
    path = config_file(tmp_path, f"collector_url: {peer.url}\nstate_dir: state\n")
    done = dozor_agent("enroll", "--config", str(path), env={"DOZOR_ENROLLMENT_SECRET": "from-env"})
    assert done.returncode == 0, done.stderr
    assert "enrolled as device 1" in done.stdout
    assert b'"secret":"from-env"' in peer.received[0].body
    credentials = tmp_path / "state" / CREDENTIALS_FILE
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert b"token-of-device-1" in credentials.read_bytes()


@pytest.mark.parametrize(
    ("url", "answer", "message"),
    [
        (
            None,
            Answer(403, {"error": "bad_enrollment_secret", "detail": "x"}),
            "the enrollment secret is wrong",
        ),
        (f"http://127.0.0.1:{closed_port()}", None, "connection refused"),
    ],
)
def test_enroll_failures_are_one_line(
    peer: Peer, tmp_path: Path, url: str | None, answer: Answer | None, message: str
) -> None:
    if answer is not None:
        peer.answer(ENROLL_PATH, answer)
    path = config_file(
        tmp_path, f"collector_url: {url or peer.url}\nenrollment_secret: s\nstate_dir: state\n"
    )
    done = dozor_agent("enroll", "--config", str(path))
    assert done.returncode == 1
    assert done.stderr.startswith("dozor-agent: enrollment with ")
    assert done.stderr.rstrip().endswith(message)
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "state" / CREDENTIALS_FILE).exists()


def test_enroll_without_a_secret(tmp_path: Path) -> None:
    path = config_file(tmp_path, f"collector_url: http://127.0.0.1:{closed_port()}\nstate_dir: state\n")
    done = dozor_agent("enroll", "--config", str(path), env={"DOZOR_ENROLLMENT_SECRET": ""})
    assert done.returncode == 1
    assert "no enrollment secret" in done.stderr


def test_unwritable_state_dir_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    path = config_file(tmp_path, f"collector_url: http://127.0.0.1:{closed_port()}\nstate_dir: file/state\n")
    done = dozor_agent("run", "--config", str(path))
    assert done.returncode == 1
    assert done.stderr.startswith(f"dozor-agent: cannot use state_dir {tmp_path / 'file' / 'state'}: ")
    assert done.stderr.count("\n") == 1

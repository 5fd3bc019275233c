"""After enrolling, the enrollment secret leaves the agent's config file (its token is all the PC
needs): the rewrite keeps the rest of the file, comments and mode included; end to end against a
real collector, and what a revoked token does afterwards."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from agent.config import REMOVED_SECRET_NOTE, SECRET_ENV, forget_enrollment_secret, without_secret
from agent.state import CREDENTIALS_FILE
from tests.agent.test_cli import dozor_agent
from tests.agent.test_transport import Peer
from tests.collector.live_server import wait_for
from tests.processes import run_agent, served_collector

NOTE = REMOVED_SECRET_NOTE


@pytest.fixture(autouse=True)
def no_secret_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (  # the MSI's file: comments around, a trailing comment on the secret's line
            "# written by the MSI\ncollector_url: https://c   # the collector\n"
            "enrollment_secret: s3cret  # one use only\nca_file: ca.pem\n",
            f"# written by the MSI\ncollector_url: https://c   # the collector\n{NOTE}\nca_file: ca.pem\n",
        ),
        (  # Windows line endings, quoted value, secret last and without a final newline
            "collector_url: https://c\r\n\r\n# enroll once\r\nenrollment_secret: 'a b: c'",
            f"collector_url: https://c\r\n\r\n# enroll once\r\n{NOTE}\n",
        ),
        (  # a block scalar, and a plain scalar folded over two lines
            "enrollment_secret: |\n  line one\n  line two\ncollector_url: https://c\n",
            f"{NOTE}\ncollector_url: https://c\n",
        ),
        (
            "collector_url: https://c\nenrollment_secret: part one\n  part two\nlog_level: debug\n",
            f"collector_url: https://c\n{NOTE}\nlog_level: debug\n",
        ),
        (  # the key twice (YAML takes the last): both go
            "enrollment_secret: old\ncollector_url: https://c\nenrollment_secret: new\n",
            f"{NOTE}\ncollector_url: https://c\n{NOTE}\n",
        ),
        (  # a flow mapping cannot be edited line by line: written anew, still without the secret
            "{collector_url: 'https://c', enrollment_secret: s, health_interval: 30}\n",
            "collector_url: https://c\nhealth_interval: 30\n",
        ),
    ],
)
def test_the_secret_is_cut_and_the_rest_of_the_file_stays_as_written(text: str, expected: str) -> None:
    assert without_secret(text) == expected
    assert "enrollment_secret" not in yaml.safe_load(expected)


@pytest.mark.parametrize(
    "text",
    [
        "collector_url: https://c\n# enrollment_secret: none here\n",
        "collector_url: https://c\nenrollment_secret: null\n",
        "collector_url: https://c\nenrollment_secret:\n",
    ],
)
def test_a_file_without_a_secret_is_left_alone(tmp_path: Path, text: str) -> None:
    assert without_secret(text) is None
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    before = path.stat()
    assert forget_enrollment_secret(path) is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, path.read_text()) == (before.st_ino, before.st_mtime_ns, text)


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_the_rewrite_keeps_the_file_mode_and_replaces_a_symlinks_target(tmp_path: Path, mode: int) -> None:
    target = tmp_path / "etc" / "agent.yaml"
    target.parent.mkdir()
    target.write_text("collector_url: https://c\nenrollment_secret: s\n")
    target.chmod(mode)
    link = tmp_path / "agent.yaml"
    link.symlink_to(target)
    assert forget_enrollment_secret(link) is True
    assert link.is_symlink()
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert target.read_text() == f"collector_url: https://c\n{NOTE}\n"


def test_cli_enroll_removes_the_secret_from_the_file(tmp_path: Path) -> None:
    with Peer() as peer:
        path = tmp_path / "agent.yaml"
        path.write_text(f"collector_url: {peer.url}\nenrollment_secret: from-the-file\nstate_dir: state\n")
        done = dozor_agent("enroll", "--config", str(path))
    assert done.returncode == 0, done.stderr
    assert b'"secret":"from-the-file"' in peer.received[0].body
    assert path.read_text() == f"collector_url: {peer.url}\n{NOTE}\nstate_dir: state\n"
    assert f"enrollment secret removed from {path}" in done.stderr
    assert "from-the-file" not in done.stderr + done.stdout


def test_a_secret_from_the_environment_leaves_file_and_environment_alone(tmp_path: Path) -> None:
    with Peer() as peer:
        path = tmp_path / "agent.yaml"
        text = f"collector_url: {peer.url}\nstate_dir: state\n"
        path.write_text(text)
        done = dozor_agent("enroll", "--config", str(path), env={SECRET_ENV: "from-env"})
    assert done.returncode == 0, done.stderr
    assert path.read_text() == text
    assert f"{SECRET_ENV} is set in the environment" in done.stderr
    assert "from-env" not in done.stderr + done.stdout


# ---------------------------------------------------------------- end to end, with a real collector


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``dozor-collector serve`` on the embedded default: (URL, data dir)."""
    data_dir = tmp_path / "dozor-data"
    with served_collector(data_dir, tmp_path / "collector.log") as url:
        yield url, data_dir


@pytest.mark.slow
def test_enrolled_agent_has_no_secret_on_disk_and_a_revoked_token_keeps_the_spool(
    collector: tuple[str, Path], tmp_path: Path
) -> None:
    url, data_dir = collector
    secret = (data_dir / "enrollment.secret").read_text().strip()
    admin = httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {(data_dir / 'admin.token').read_text().strip()}"}
    )
    config = tmp_path / "agent.yaml"
    config.write_text(
        "# Dozor agent, as the installer wrote it\n"
        f"collector_url: {url}  # this LAN's collector\n"
        f'enrollment_secret: "{secret}"\n'
        "state_dir: state\n"
        "health_interval: 1\n"
    )
    config.chmod(0o600)
    agent = run_agent(config, tmp_path / "agent.log")
    try:
        wait_for(lambda: "enrollment secret removed" in agent.output(), 60, "enrollment")
        assert (tmp_path / "state" / CREDENTIALS_FILE).is_file()
        assert config.read_text() == (
            "# Dozor agent, as the installer wrote it\n"
            f"collector_url: {url}  # this LAN's collector\n"
            f"{NOTE}\n"
            "state_dir: state\n"
            "health_interval: 1\n"
        )
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        wait_for(lambda: admin.get("/api/v1/hosts").json(), 30, "the PC in the inventory")
        (host,) = admin.get("/api/v1/hosts").json()

        assert admin.post(f"/api/v1/hosts/{host['id']}/revoke-tokens").status_code < 300
        wait_for(lambda: "refused this agent's token" in agent.output(), 30, "the 401")
        spool = tmp_path / "state" / "spool"
        wait_for(lambda: len(list(spool.glob("*.json.gz"))) >= 3, 30, "reports kept in the spool")
        assert agent.popen.poll() is None, "the agent keeps running (and collecting) after a 401"
    finally:
        code = agent.stop()
    output = agent.output()
    assert code == 0, output
    assert "Traceback" not in output
    assert f"enrollment_secret in {config}" in output  # says where a new secret goes
    assert secret not in output and secret not in config.read_text()
    assert os.stat(tmp_path / "state" / CREDENTIALS_FILE).st_mode & 0o077 == 0

"""The agent's config: every mistake is named by its key, and the shipped example is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import SECRET_ENV, AgentConfig, ConfigError, load_config, parse_config
from tests.conftest import REPO_ROOT

BASE = Path("/etc/dozor")


def parse(text: str) -> AgentConfig:
    return parse_config(text, BASE)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return str(caught.value)


@pytest.fixture(autouse=True)
def no_secret_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)


def test_minimal_config_gets_the_documented_defaults() -> None:
    config = parse("collector_url: https://dozor.example.org:8470\n")
    assert config.health_interval == 60
    assert config.inventory_interval == 3600
    assert config.spool_max_bytes == 64 * 1024 * 1024
    assert config.spool_max_age == 7 * 86_400
    assert config.allow_insecure_http is False
    assert config.ca_file is None
    assert config.enrollment_secret is None
    assert config.state_dir == Path("/var/lib/dozor-agent")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "collector_url: https://c\nhealth_interval: 60s\n",
            "config error at health_interval: expected int, got str",
        ),
        (
            "collector_url: https://c\nhealth_interval: 0\n",
            "config error at health_interval: expected int >= 1",
        ),
        (
            "collector_url: https://c\nrequest_timeout: -1\n",
            "config error at request_timeout: expected float > 0",
        ),
        ("collector_url: https://c\nlog_level: loud\n", "config error at log_level: expected str matching"),
        ("collector_url: https://c\nhealth_intervall: 60\n", "config error at health_intervall: unknown key"),
        ("health_interval: 60\n", "config error at collector_url: required key is missing"),
        ("collector_url: [https://c]\n", "config error at collector_url: expected str, got array"),
        ("- collector_url: https://c\n", "config error: expected a mapping of keys"),
        ("", "config error: expected a mapping of keys"),
        (
            "collector_url: https://c\n  bad: indent\n",
            "config error: not valid YAML at line 2, column 6: mapping values",
        ),
        ("collector_url: ftp://c\n", "config error at collector_url: expected https://HOST"),
        ("collector_url: https://c:99999\n", "config error at collector_url: bad port (Port out of range"),
        ("collector_url: https://c/?x=1\n", "config error at collector_url: must not carry a query"),
    ],
)
def test_errors_name_the_key_and_what_was_expected(text: str, message: str) -> None:
    assert error_of(text).startswith(message)


def test_plain_http_only_to_loopback_unless_allowed() -> None:
    for url in ("http://127.0.0.1:8470", "http://localhost:8470", "http://[::1]:8470", "http://127.0.0.5"):
        assert parse(f"collector_url: {url}\n").collector_url == url
    assert error_of("collector_url: http://10.0.0.5:8470\n").startswith(
        "config error at collector_url: plain http to a non-loopback host"
    )
    assert parse("collector_url: http://10.0.0.5:8470\nallow_insecure_http: true\n").allow_insecure_http


def test_environment_secret_wins_over_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "collector_url: https://c\nenrollment_secret: from-the-file\n"
    assert parse(text).enrollment_secret == "from-the-file"
    monkeypatch.setenv(SECRET_ENV, "from-the-environment")
    assert parse(text).enrollment_secret == "from-the-environment"
    assert parse("collector_url: https://c\n").enrollment_secret == "from-the-environment"


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "agent.yaml").write_text("collector_url: https://c\nstate_dir: state\n")
    assert load_config(tmp_path / "agent.yaml").state_dir == tmp_path / "state"
    assert parse("collector_url: https://c\nstate_dir: /srv/dozor\n").state_dir == Path("/srv/dozor")


def test_ca_file_must_be_a_loadable_pem(tmp_path: Path) -> None:
    assert error_of(f"collector_url: https://c\nca_file: {tmp_path / 'missing.pem'}\n").startswith(
        "config error at ca_file: cannot load"
    )
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    assert error_of(f"collector_url: https://c\nca_file: {tmp_path / 'junk.pem'}\n").startswith(
        "config error at ca_file: cannot load"
    )


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config error: cannot read .*missing\.yaml"):
        load_config(tmp_path / "missing.yaml")


def test_shipped_example_is_valid_and_documents_every_key() -> None:
    path = REPO_ROOT / "configs" / "agent.example.yaml"
    config = load_config(path)
    assert config.collector_url.startswith("https://")
    text = path.read_text()
    for key in AgentConfig.__struct_fields__:
        assert f"\n{key}:" in text or f"\n# {key}:" in text, f"{key} is not in the example"

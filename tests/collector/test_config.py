"""The collector config: the example documents every key, and mistakes are reported by key path."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import yaml

from collector.__main__ import main
from collector.config import CollectorConfig, ConfigError, load_config, parse_config
from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "configs" / "collector.example.yaml"


def keys_of(kind: type, prefix: str = "") -> set[str]:
    keys = set()
    for field in msgspec.structs.fields(kind):
        path = f"{prefix}{field.name}"
        keys.add(path)
        if isinstance(field.type, type) and issubclass(field.type, msgspec.Struct):
            keys |= keys_of(field.type, f"{path}.")
    return keys


def keys_in(document: dict, prefix: str = "") -> set[str]:
    keys = set()
    for key, value in document.items():
        keys.add(f"{prefix}{key}")
        if isinstance(value, dict):
            keys |= keys_in(value, f"{prefix}{key}.")
    return keys


def test_example_config_is_valid_and_complete() -> None:
    assert load_config(EXAMPLE) == CollectorConfig()
    assert keys_in(yaml.safe_load(EXAMPLE.read_text())) == keys_of(CollectorConfig)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ingest: {batch_maxx: 3}", "ingest.batch_maxx: unknown key"),
        ("ingest: {batch_max: many}", "ingest.batch_max: expected `int`, got `str`"),
        ("ingest: {batch_max: 0}", "ingest.batch_max: expected `int` >= 1"),
        ("listen: 8470", "listen: expected `str`, got `int`"),
        ("listen: localhost", "listen: expected `str` matching regex"),
        ("auth: {admin_token: short}", "auth.admin_token: expected `str` of length >= 16"),
        ("database: {url: '${DOZOR_TEST_UNSET_VARIABLE}'}", "database.url: environment variable"),
        ("- a list", "expected a mapping of keys at the top level"),
        ("listen: [unclosed", "not valid YAML"),
    ],
)
def test_bad_config_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as error:
        parse_config(text, "collector.yaml")
    assert str(error.value).startswith("collector.yaml: ")
    assert message in str(error.value)


def test_secrets_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOZOR_TEST_DB_PASSWORD", "s3cret")
    config = parse_config("database: {url: 'postgresql+psycopg://dozor:${DOZOR_TEST_DB_PASSWORD}@db/dozor'}")
    assert config.database.url == "postgresql+psycopg://dozor:s3cret@db/dozor"


def test_cli_reports_config_errors_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "collector.yaml"
    bad.write_text("liveness: {offline_after_seconds: -5}\n")
    assert main(["serve", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "config error" in err and "liveness.offline_after_seconds" in err and "Traceback" not in err
    assert main(["serve", "--listen", "nowhere"]) == 2
    assert "listen" in capsys.readouterr().err
    assert main(["check-config", str(EXAMPLE)]) == 0

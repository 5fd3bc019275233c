"""The collector config: the example documents every key, and mistakes are reported by key path."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
import yaml

from collector.cli import main
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
        ("discovery: {subnets: [10.0.0.0/8], interface: eth0}", "discovery.subnets: '10.0.0.0/8' has"),
        ("discovery: {subnets: [10.0.0.0/24]}", "discovery.interface: needed when discovery.subnets"),
        ("discovery: {subnets: [a.b], interface: eth0}", "discovery.subnets: 'a.b' is not a subnet"),
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


SNMP_OK = """
snmp:
  credentials:
    office-v2: {community: public}
    office-v3: {version: "3", user: dozor, auth_protocol: sha256, auth_key: "${DOZOR_TEST_SNMP_AUTH}",
                priv_protocol: aes128, priv_key: "${DOZOR_TEST_SNMP_PRIV}"}
  devices:
    - {address: 192.168.1.2, credential: office-v3, kind: switch, name: core, location: rack 1, group: HQ}
    - {address: "fe80::1", port: 1161, credential: office-v2}
    - {address: printer-2.office.lan, credential: office-v2, kind: printer}
  interval_seconds: 60
"""


def test_snmp_devices_and_secret_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOZOR_TEST_SNMP_AUTH", "auth-secret-123")
    monkeypatch.setenv("DOZOR_TEST_SNMP_PRIV", "priv-secret-456")
    snmp = parse_config(SNMP_OK).snmp
    v3 = snmp.credentials["office-v3"]
    assert (v3.user, v3.auth_key, v3.priv_key) == ("dozor", "auth-secret-123", "priv-secret-456")
    assert [(d.address, d.port, d.kind) for d in snmp.devices] == [
        ("192.168.1.2", 161, "switch"), ("fe80::1", 1161, None), ("printer-2.office.lan", 161, "printer")
    ]
    assert (snmp.interval_seconds, snmp.devices[0].group) == (60, "HQ")
    shown = repr(snmp) + str(snmp.credentials["office-v2"])
    assert "auth-secret-123" not in shown and "priv-secret-456" not in shown and "public" not in shown
    assert "user='dozor'" in shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "snmp: {credentials: {a: {community: x}}, devices: [{address: h1, credential: a},"
            " {address: h2, credential: a}, {address: h3, credential: b}]}",
            "snmp.devices[2].credential: no credential 'b' in snmp.credentials (a)",
        ),
        ("snmp: {devices: [{address: h1, credential: a}]}", "snmp.devices[0].credential: no credential 'a'"),
        ("snmp: {devices: [{address: h1}]}", "snmp.devices[0]: object missing required field `credential`"),
        (
            "snmp: {credentials: {a: {community: x}}, devices: [{address: 'not a host!', credential: a}]}",
            "snmp.devices[0].address: 'not a host!' is neither an IP address nor a hostname",
        ),
        (
            "snmp: {credentials: {a: {community: x}}, devices: [{address: h1, credential: a, port: 70000}]}",
            "snmp.devices[0].port: expected `int` <= 65535",
        ),
        (
            "snmp: {credentials: {a: {community: x}}, devices: [{address: h1, credential: a, kind: pc}]}",
            "snmp.devices[0].kind: invalid enum value 'pc'",
        ),
        (
            "snmp: {credentials: {a: {version: '1', community: x}}}",
            "snmp.credentials.a.version: invalid enum value '1'",
        ),
        ("snmp: {credentials: {a: {version: '2c'}}}", "snmp.credentials.a: version 2c needs a community"),
        (
            "snmp: {credentials: {a: {version: '3', community: x}}}",
            "snmp.credentials.a: version 3 takes a user",
        ),
        (
            "snmp: {credentials: {a: {version: '3', user: u, auth_protocol: md5, auth_key: 12345678}}}",
            "snmp.credentials.a.auth_protocol: invalid enum value 'md5'",
        ),
        (
            "snmp: {credentials: {a: {version: '3', user: u, auth_protocol: sha}}}",
            "snmp.credentials.a: auth_protocol and auth_key go together",
        ),
        (
            "snmp: {credentials: {a: {version: '3', user: u, priv_protocol: aes256, priv_key: '12345678'}}}",
            "snmp.credentials.a: privacy (priv_protocol) needs authentication",
        ),
        ("snmp: {credentials: {a: {community: x, user: u}}}", "snmp.credentials.a: version 2c takes only"),
        (
            "snmp: {credentials: {a: {community: '${DOZOR_TEST_UNSET_VARIABLE}'}}}",
            "snmp.credentials.a.community: environment variable",
        ),
        (
            "snmp: {credentials: {a: {version: '3', user: u, auth_protocol: sha, auth_key: short}}}",
            "snmp.credentials.a.auth_key: expected `str` of length >= 8",
        ),
        ("snmp: {credentials: {a: {community: x, extra: 1}}}", "snmp.credentials.a.extra: unknown key"),
        ("snmp: {interval_seconds: 1}", "snmp.interval_seconds: expected `float` >= 10"),
        ("snmp: {max_repetitions: 0}", "snmp.max_repetitions: expected `int` >= 1"),
        ("snmp: {communities: {}}", "snmp.communities: unknown key"),
    ],
)
def test_bad_snmp_config_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(text, "collector.yaml")
    assert str(error.value).startswith("collector.yaml: ")
    assert message in str(error.value)

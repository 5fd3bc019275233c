"""fetch() against the switch simulator: a real SSH server on 127.0.0.1 playing each platform."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from collector.sources.ssh.config_text import config_digest, mask_secrets, normalize_config
from collector.sources.ssh.errors import CliError
from collector.sources.ssh.facts import parse_facts
from collector.sources.ssh.platforms import platform
from collector.sources.ssh.session import Credentials, Target, fetch
from tests.collector.ssh.conftest import CREDENTIALS, DEVICES, deadline_in
from tests.collector.ssh.switch_sim import ENABLE_SECRET, PASSWORD, SimDevice
from tests.conftest import SHARED_TESTDATA

MakeDevice = Callable[..., tuple[SimDevice, Target]]
PLATFORMS = ["cisco_ios", "hp_procurve", "hp_comware", "huawei_vrp", "mikrotik_routeros"]


@pytest.mark.parametrize("name", PLATFORMS)
def test_backup_and_facts(make_device: MakeDevice, name: str) -> None:
    own_outputs = any(path.is_dir() for path in (DEVICES / name).iterdir())
    if not own_outputs and not (SHARED_TESTDATA / "cli" / name).is_dir():
        pytest.skip(f"{name}'s fact outputs come from ../shared/testdata/cli, which is absent")
    device, target = make_device(name)
    result = fetch(target, CREDENTIALS, name, None, deadline_in(20))
    assert result.host_key == device.known_host_key  # recorded on first use
    normalized = normalize_config(name, result.config)
    assert normalized == normalize_config(name, device.config)
    for secret in (device_secrets := _secrets(name)):
        assert secret not in mask_secrets(name, normalized)
    assert device_secrets
    parsed = {command: parse_facts(name, command, output) for command, output in result.outputs.items()}
    assert parsed, "no fact command answered"
    assert all(facts.records for facts in parsed.values())
    # Commands the device does not know fail alone, as a named error; the session goes on.
    assert all(error.kind == "command_rejected" for error in result.fact_errors.values())
    assert set(result.outputs) | set(result.fact_errors) == {
        c.command for c in platform(name).polled_commands
    }


def _secrets(name: str) -> list[str]:
    return (DEVICES / name / "secrets.txt").read_text().split()


def test_second_poll_with_the_recorded_key(make_device: MakeDevice) -> None:
    device, target = make_device("cisco_ios")
    first = fetch(target, CREDENTIALS, "cisco_ios", None, deadline_in(20))
    digest = config_digest(normalize_config("cisco_ios", first.config))

    device.config = device.config.replace("14:02:11 EET Mon Mar 3", "16:45:09 EET Tue Mar 4")
    second = fetch(target, CREDENTIALS, "cisco_ios", first.host_key, deadline_in(20))
    assert second.config != first.config
    assert config_digest(normalize_config("cisco_ios", second.config)) == digest

    device.config = device.config.replace("description to PC-101", "description to PC-102")
    third = fetch(target, CREDENTIALS, "cisco_ios", first.host_key, deadline_in(20))
    assert config_digest(normalize_config("cisco_ios", third.config)) != digest


def test_changed_host_key_stops_before_login(make_device: MakeDevice) -> None:
    device, target = make_device("hp_comware")
    recorded = fetch(target, CREDENTIALS, "hp_comware", None, deadline_in(20)).host_key
    device.new_host_key()
    logins = device.logins
    with pytest.raises(CliError) as caught:
        fetch(target, CREDENTIALS, "hp_comware", recorded, deadline_in(20))
    assert caught.value.kind == "host_key_changed"
    assert "SHA256:" in str(caught.value)
    assert device.logins == logins  # nothing was fetched, no credential was sent


def _failure(make_device: MakeDevice, name: str, credentials: Credentials = CREDENTIALS, budget: float = 6,
             **misbehave: bool) -> tuple[CliError, float]:  # fmt: skip
    device, target = make_device(name)
    for switch, on in misbehave.items():
        setattr(device.misbehave, switch, on)
    started = time.monotonic()
    with pytest.raises(CliError) as caught:
        fetch(target, credentials, name, None, started + budget)
    elapsed = time.monotonic() - started
    assert elapsed < budget + 1.5, f"{caught.value.kind} took {elapsed:.1f}s, past the deadline"
    for secret in (PASSWORD, ENABLE_SECRET):
        assert secret not in str(caught.value)
    return caught.value, elapsed


@pytest.mark.parametrize(
    ("name", "switch", "kind"),
    [
        ("cisco_ios", "reject_password", "auth_failed"),
        ("huawei_vrp", "garbage", "garbage_output"),
        ("cisco_ios", "pager_stuck", "pager_left_on"),
        ("hp_comware", "pager_stuck", "pager_left_on"),
        ("mikrotik_routeros", "close_mid_output", "truncated_output"),
        ("cisco_ios", "close_mid_output", "truncated_output"),
        ("huawei_vrp", "odd_prompt", "unexpected_prompt"),
    ],
)
def test_misbehaving_device_gives_a_named_error(
    make_device: MakeDevice, name: str, switch: str, kind: str
) -> None:
    error, _ = _failure(make_device, name, budget=3, **{switch: True})
    assert error.kind == kind


def test_hang_after_login_ends_at_the_deadline(make_device: MakeDevice) -> None:
    error, elapsed = _failure(make_device, "cisco_ios", budget=2.5, hang_after_login=True)
    assert error.kind == "timeout"
    assert elapsed >= 2.0


def test_wrong_enable_secret(make_device: MakeDevice) -> None:
    wrong = Credentials(CREDENTIALS.username, CREDENTIALS.password, enable_secret="not-it")
    error, _ = _failure(make_device, "cisco_ios", credentials=wrong)
    assert error.kind == "enable_failed"


def test_refused_connection() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CliError) as caught:
        fetch(Target("127.0.0.1", port), CREDENTIALS, "cisco_ios", None, deadline_in(5))
    assert caught.value.kind == "connection_refused"


def test_silent_tcp_server_times_out_in_the_ssh_banner() -> None:
    with socket.socket() as tarpit:
        tarpit.bind(("127.0.0.1", 0))
        tarpit.listen(1)
        started = time.monotonic()
        with pytest.raises(CliError) as caught:
            fetch(Target("127.0.0.1", tarpit.getsockname()[1]), CREDENTIALS, "cisco_ios", None, started + 2)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 3.5


def test_credentials_stay_out_of_repr() -> None:
    text = repr(CREDENTIALS)
    assert PASSWORD not in text and ENABLE_SECRET not in text and "dozor" in text


def test_twenty_devices_concurrently(make_device: MakeDevice) -> None:
    targets = [(name, make_device(name)[1]) for name in PLATFORMS * 4]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda t: fetch(t[1], CREDENTIALS, t[0], None, started + 30), targets))
    elapsed = time.monotonic() - started
    assert len({r.host_key for r in results}) == 20
    assert all(r.config for r in results)
    assert elapsed < 20, f"20 concurrent backups took {elapsed:.1f}s"

"""The running collector backs up simulated switches of several platforms over real SSH: versions
only on real changes, masked texts and diffs (raw for the admin token only), change events and
metrics, a changed host key that stops the backups until accepted, and named failures that keep
the previous version. No secret reaches the logs, the metrics or a masked answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector.sources.ssh.config_text import MASK
from tests.collector.live_server import LiveCollector, make_config, run_collector, wait_for
from tests.collector.ssh.conftest import DEVICES, device_config, device_replies
from tests.collector.ssh.switch_sim import ENABLE_SECRET, PASSWORD, SimDevice, SwitchSimulator
from tests.collector.test_api_bad_input import enroll
from tests.promtool import promtool

PLATFORMS = ("cisco_ios", "hp_procurve", "huawei_vrp", "mikrotik_routeros")
TIMEOUT = 4.0
Fleet = tuple[LiveCollector, dict[str, tuple[SimDevice, int]]]


def device_secrets(platform_name: str) -> list[str]:
    return (DEVICES / platform_name / "secrets.txt").read_text().split()


def metrics(live: LiveCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = live.client().get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def device_metric(live: LiveCollector, name: str, device_id: int, **labels: str) -> float | None:
    for (sample, found), value in metrics(live).items():
        found_labels = dict(found)
        wanted = {"device_id": str(device_id), **labels}
        if sample == name and all(found_labels.get(key) == want for key, want in wanted.items()):
            return value
    return None


class _Captured(logging.Handler):
    """Every log record of the module's collector, formatted, for the no-secrets check."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def fleet(simulator: SwitchSimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One collector for the module, backing up one simulated device per platform (secrets from
    the environment), logging everything at DEBUG; yields it and, by platform, the simulated device
    and its id once each has its first version. Tests leave the devices working."""
    captured = _Captured()
    root = logging.getLogger()
    level = root.level
    root.addHandler(captured)
    root.setLevel(logging.DEBUG)
    tmp_path = tmp_path_factory.mktemp("ssh-collector")
    simulated = {}
    for name in PLATFORMS:
        device = SimDevice(name, device_config(name), device_replies(name), hostname=f"sw-{name}")
        simulated[name] = (device, simulator.add(device))
    devices = "".join(
        f"    - {{address: 127.0.0.1, port: {port}, platform: {name}, credential: lab,"
        f" name: {name}-1, location: Room 1, group: HQ}}\n"
        for name, (_, port) in simulated.items()
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DOZOR_TEST_SSH_PASSWORD", PASSWORD)
        env.setenv("DOZOR_TEST_SSH_ENABLE", ENABLE_SECRET)
        config = make_config(
            tmp_path / "collector",
            f"sqlite:///{tmp_path / 'dozor.sqlite3'}",
            "ssh:\n"
            f"  interval_seconds: 3600\n  timeout_seconds: {TIMEOUT}\n  max_concurrent_backups: 4\n"
            "  credentials:\n"
            "    lab: {username: dozor, password: '${DOZOR_TEST_SSH_PASSWORD}',"
            " enable_secret: '${DOZOR_TEST_SSH_ENABLE}'}\n"
            f"  devices:\n{devices}",
        )
    try:
        with run_collector(config) as live, live.admin() as admin:

            def backed_up() -> dict[str, int] | None:
                listed = {d["name"]: d["id"] for d in admin.get("/api/v1/devices").json()}
                ids = {name: listed.get(f"{name}-1") for name in PLATFORMS}
                if None in ids.values():
                    return None
                done = all(admin.get(f"/api/v1/devices/{i}/configs").json() for i in ids.values())
                return ids if done else None  # type: ignore[return-value]

            ids = wait_for(backed_up, 40, "every device's first backup")
            yield live, {name: (simulated[name][0], ids[name]) for name in PLATFORMS}
    finally:
        root.removeHandler(captured)
        root.setLevel(level)
    everything = "\n".join(captured.lines)
    assert "SSH backup" in everything, "the collector's own log lines were captured"
    for secret in {PASSWORD, ENABLE_SECRET, *(s for name in PLATFORMS for s in device_secrets(name))}:
        assert secret not in everything, "a secret reached the logs"


def test_backups_versions_diffs_and_events(fleet: Fleet, shared_testdata: Path) -> None:
    """Needs ../shared: the CLI facts it checks are parsed from the real recordings."""
    live, devices = fleet
    admin = live.admin()
    for name, (_, device_id) in devices.items():
        versions = admin.get(f"/api/v1/devices/{device_id}/configs").json()
        assert len(versions) == 1 and versions[0]["size_bytes"] > 100 and len(versions[0]["digest"]) == 64
        shown = admin.get(f"/api/v1/devices/{device_id}/configs/{versions[0]['id']}").json()
        assert shown["masked"] is True and MASK in shown["text"]
        assert not any(secret in shown["text"] for secret in device_secrets(name)), name
        detail = admin.get(f"/api/v1/devices/{device_id}").json()
        assert detail["facts"]["cli"], f"{name}: CLI facts merged into the device's facts"
        assert device_metric(live, "dozor_device_backup_last_success_timestamp_seconds", device_id)
        assert device_metric(live, "dozor_device_ssh_host_key_mismatch", device_id) == 0

    cisco, cisco_id = devices["cisco_ios"]
    first = admin.get(f"/api/v1/devices/{cisco_id}/configs").json()[0]
    raw = admin.get(f"/api/v1/devices/{cisco_id}/configs/{first['id']}", params={"raw": "true"})
    assert raw.json()["masked"] is False and raw.headers["cache-control"] == "no-store"
    assert all(secret in raw.json()["text"] for secret in device_secrets("cisco_ios")[:3])
    agent = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {enroll(live, 1)}"})
    refused = agent.get(f"/api/v1/devices/{cisco_id}/configs/{first['id']}", params={"raw": "true"})
    assert refused.status_code == 401 and "RadaRO2024" not in refused.text
    assert live.client().get(f"/api/v1/devices/{cisco_id}/configs").status_code == 401

    # Only the "last change" comment moved: no new version.
    cisco.config = cisco.config.replace("14:02:11 EET Mon Mar 3", "09:15:00 EET Fri Mar 7")
    same = admin.post(f"/api/v1/devices/{cisco_id}/configs/backup").json()
    assert same["ok"] and not same["new_version"] and same["version_id"] == first["id"]

    # A real change, with a new secret in it.
    cisco.config = cisco.config.replace("description to PC-101", "description to PC-102").replace(
        "hostname sw1\n", "hostname sw1\nsnmp-server community NewCommunity77 RO\n"
    )
    changed = admin.post(f"/api/v1/devices/{cisco_id}/configs/backup").json()
    assert changed["ok"] and changed["new_version"] and changed["config_changed"], changed
    assert not any("NewCommunity77" in summary for summary in changed["changes"])
    diff = admin.get(f"/api/v1/devices/{cisco_id}/configs/diff").json()
    assert (diff["from_version"], diff["to_version"]) == (first["id"], changed["version_id"])
    assert "+ description to PC-102" in diff["diff"] and "- description to PC-101" in diff["diff"]
    assert f"+snmp-server community {MASK} RO" in diff["diff"] and "NewCommunity77" not in diff["diff"]
    raw_diff = admin.get(f"/api/v1/devices/{cisco_id}/configs/diff", params={"raw": "true"}).json()
    assert "+snmp-server community NewCommunity77 RO" in raw_diff["diff"] and raw_diff["masked"] is False
    events = [c for c in admin.get(f"/api/v1/hosts/{cisco_id}/changes").json() if c["subject"] == "config"]
    assert len(events) == 1 and events[0]["source"] == "ssh"
    assert "PC-102" in events[0]["summary"] and "NewCommunity77" not in str(events[0])
    assert device_metric(live, "dozor_device_config_changes_total", cisco_id) == 1
    last_change = device_metric(live, "dozor_device_config_last_change_timestamp_seconds", cisco_id)
    assert last_change and abs(last_change - time.time()) < 60

    text = live.client().get("/metrics").text
    assert "NewCommunity77" not in text and PASSWORD not in text
    result = promtool("check", "metrics", stdin=text)
    assert result.returncode == 0, result.stdout + result.stderr
    openapi = live.client().get("/openapi.json").json()
    assert "/api/v1/devices/{device_id}/configs/diff" in openapi["paths"]
    assert {"ConfigDiffView", "SshStatus", "AcceptHostKey"} <= set(openapi["components"]["schemas"])


def test_changed_host_key_stops_backups_until_accepted(
    fleet: Fleet,
) -> None:
    live, devices = fleet
    admin = live.admin()
    device, device_id = devices["hp_procurve"]
    versions = admin.get(f"/api/v1/devices/{device_id}/configs").json()
    trusted = admin.get(f"/api/v1/devices/{device_id}/ssh").json()["host_key_fingerprint"]

    logins = device.logins
    device.new_host_key()
    device.config += "; changed while the key was in doubt\n"
    stopped = admin.post(f"/api/v1/devices/{device_id}/configs/backup").json()
    assert not stopped["ok"] and stopped["error_kind"] == "host_key_changed"
    pending = stopped["status"]["pending_host_key_fingerprint"]
    assert pending and pending != trusted and stopped["status"]["host_key_fingerprint"] == trusted
    assert device.logins == logins, "no login to a device whose key changed"
    assert admin.get(f"/api/v1/devices/{device_id}/configs").json() == versions
    assert device_metric(live, "dozor_device_ssh_host_key_mismatch", device_id) == 1
    again = admin.post(f"/api/v1/devices/{device_id}/configs/backup").json()
    assert again["error_kind"] == "host_key_changed" and again["changes"] == [], "one event per new key"

    wrong = admin.post(
        f"/api/v1/devices/{device_id}/ssh/accept-host-key", json={"by": "ivan", "fingerprint": trusted}
    )
    assert wrong.status_code == 409
    accepted = admin.post(
        f"/api/v1/devices/{device_id}/ssh/accept-host-key", json={"by": "ivan", "fingerprint": pending}
    )
    assert accepted.status_code == 200 and accepted.json()["host_key_fingerprint"] == pending
    assert device_metric(live, "dozor_device_ssh_host_key_mismatch", device_id) == 0
    resumed = admin.post(f"/api/v1/devices/{device_id}/configs/backup").json()
    assert resumed["ok"] and resumed["config_changed"], resumed
    assert (
        admin.post(f"/api/v1/devices/{device_id}/ssh/accept-host-key", json={"by": "ivan"}).status_code == 409
    )

    history = [
        c for c in admin.get(f"/api/v1/hosts/{device_id}/changes").json() if c["subject"] == "ssh.host_key"
    ]
    by_source = {(c["source"], c["kind"]) for c in history}
    assert by_source == {("ssh", "added"), ("ssh", "changed"), ("admin", "changed")}
    accept_event = next(c for c in history if c["source"] == "admin")
    assert "accepted by ivan" in accept_event["summary"] and pending in accept_event["summary"]


@pytest.mark.parametrize(
    ("switch", "kind"),
    [("reject_password", "auth_failed"), ("hang_after_login", "timeout"), ("garbage", "garbage_output")],
)
def test_failures_are_named_and_keep_the_previous_version(fleet: Fleet, switch: str, kind: str) -> None:
    live, devices = fleet
    admin = live.admin()
    device, device_id = devices["huawei_vrp"]
    before = admin.get(f"/api/v1/devices/{device_id}").json()
    versions = admin.get(f"/api/v1/devices/{device_id}/configs").json()
    setattr(device.misbehave, switch, True)
    started = time.monotonic()
    failed = admin.post(f"/api/v1/devices/{device_id}/configs/backup").json()
    assert time.monotonic() - started < TIMEOUT + 5
    assert not failed["ok"] and failed["error_kind"] == kind, failed
    assert failed["status"]["last_error_kind"] == kind and failed["status"]["last_success_at"]
    assert admin.get(f"/api/v1/devices/{device_id}/configs").json() == versions
    assert admin.get(f"/api/v1/devices/{device_id}").json()["facts"] == before["facts"]
    assert device_metric(live, "dozor_device_backup_errors_total", device_id, error=kind) == 1
    # The others were not held up meanwhile, and the device recovers.
    cisco_id = devices["cisco_ios"][1]
    assert admin.post(f"/api/v1/devices/{cisco_id}/configs/backup").json()["ok"]
    setattr(device.misbehave, switch, False)
    assert admin.post(f"/api/v1/devices/{device_id}/configs/backup").json()["ok"]

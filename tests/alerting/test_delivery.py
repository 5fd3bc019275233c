"""Real delivery: Debian's Alertmanager, started here with the shipped routes, inhibitions and
templates (only the endpoints and timings changed), sends to an aiosmtpd server and to a local HTTP
server standing in for the Telegram Bot API; the tests read what arrived.

The alerts pushed are exactly those the rules produce: labels and annotations are taken from the
promtool unit tests' expected alerts, which promtool checks against the rules."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT

pytest.importorskip("aiosmtpd", reason="aiosmtpd is in the dev extra; run scripts/test.sh")
from aiosmtpd.controller import Controller

ALERTMANAGER_DIR = REPO_ROOT / "configs" / "alertmanager"
RULE_TESTS = REPO_ROOT / "configs" / "prometheus" / "tests"
BOT_TOKEN = "123456:TEST-token-for-loopback"
CHAT_ID = -100777


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Inbox:
    """What reached the stand-ins: emails (parsed) and Telegram sendMessage bodies."""

    emails: list[email.message.EmailMessage] = field(default_factory=list)
    telegram: list[dict[str, Any]] = field(default_factory=list)
    telegram_paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, emails: int, telegram: int, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.emails) >= emails and len(self.telegram) >= telegram:
                    return
            time.sleep(0.05)
        raise AssertionError(f"expected {emails} emails and {telegram} Telegram messages, got {self}")


class _SmtpHandler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.inbox.lock:
            self.inbox.emails.append(message)  # type: ignore[arg-type]
        return "250 OK"


def _telegram_handler(inbox: Inbox) -> type[BaseHTTPRequestHandler]:
    class TelegramBotApi(BaseHTTPRequestHandler):
        """Answers sendMessage like api.telegram.org does."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            params = json.loads(body)
            with inbox.lock:
                inbox.telegram.append(params)
                inbox.telegram_paths.append(self.path)
            message = {
                "message_id": len(inbox.telegram),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "group"},
                "text": params["text"],
            }
            answer = json.dumps({"ok": True, "result": message}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    return TelegramBotApi


def _test_config(smtp_port: int, telegram_url: str) -> dict[str, Any]:
    """The shipped config with loopback endpoints, the token filled in as at install, and short timings."""
    text = (ALERTMANAGER_DIR / "alertmanager.yml").read_text(encoding="utf-8")
    config: dict[str, Any] = yaml.safe_load(text.replace("${DOZOR_TELEGRAM_BOT_TOKEN}", BOT_TOKEN))
    config["global"].update(smtp_smarthost=f"127.0.0.1:{smtp_port}", smtp_require_tls=False)
    for key in ("smtp_auth_username", "smtp_auth_password_file"):
        config["global"].pop(key)
    config["route"].update(group_wait="200ms", group_interval="1s")
    for receiver in config["receivers"]:
        for telegram in receiver.get("telegram_configs", ()):
            telegram.update(api_url=telegram_url, chat_id=CHAT_ID)
    return config


@dataclass
class Alertmanager:
    url: str
    inbox: Inbox

    def push(self, *alerts: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(list(alerts)).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    def alerts(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as response:
            alerts: list[dict[str, Any]] = json.load(response)
        return alerts


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.skip(
            "Alertmanager is not installed (Debian package 'prometheus-alertmanager'); run scripts/test.sh"
        )
    inbox = Inbox()
    smtp = Controller(_SmtpHandler(inbox), hostname="127.0.0.1", port=_free_port())
    smtp.start()
    telegram = ThreadingHTTPServer(("127.0.0.1", 0), _telegram_handler(inbox))
    threading.Thread(target=telegram.serve_forever, daemon=True).start()
    shutil.copytree(ALERTMANAGER_DIR / "templates", tmp_path / "templates")
    config = tmp_path / "alertmanager.yml"
    telegram_url = f"http://127.0.0.1:{telegram.server_address[1]}"
    config.write_text(yaml.safe_dump(_test_config(smtp.port, telegram_url), allow_unicode=True))
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        env={**os.environ, "TZ": "Europe/Kyiv"},
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "alertmanager.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "alertmanager.log").read_text()) from None
                time.sleep(0.05)
        yield Alertmanager(url, inbox)
        log = (tmp_path / "alertmanager.log").read_text().splitlines()
        assert [line for line in log if "failed" in line] == [], "Alertmanager could not deliver"
    finally:
        process.terminate()
        process.wait(timeout=10)
        telegram.shutdown()
        smtp.stop()


def _rule_alert(alertname: str, started: datetime, **extra_labels: str) -> dict[str, Any]:
    """The first alert the promtool unit tests expect from ``alertname``, as Prometheus sends it."""
    for path in sorted(RULE_TESTS.glob("*.test.yml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", ()):
                if check["alertname"] == alertname and check.get("exp_alerts"):
                    expected = check["exp_alerts"][0]
                    return {
                        "labels": {"alertname": alertname, **expected["exp_labels"], **extra_labels},
                        "annotations": expected["exp_annotations"],
                        "startsAt": started.isoformat(),
                    }
    raise LookupError(f"no firing promtool test for {alertname}")


def _text(mail: email.message.EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None, "no text/plain part"
    return str(part.get_content())


def _where_uk(labels: dict[str, str]) -> str:
    """The "where" line the chief should read, from the alert's labels, without the site."""
    if "host" in labels:
        where = f"ПК {labels['host']}"
    elif "device" in labels:
        where = f"пристрій {labels['device']}"
    else:
        where = f"невідомий пристрій {labels['mac']}, комутатор {labels['switch']}, порт {labels['port']}"
    return f"{where}, приміщення «{labels['location']}»" if labels.get("location") else where


STARTED = datetime(2026, 3, 10, 7, 30, tzinfo=UTC)  # 09:30 in Kyiv (EET)


@pytest.mark.parametrize(
    "alert",
    [
        _rule_alert("DozorAgentOffline", STARTED),
        _rule_alert("DozorAntivirusDisabled", STARTED),
        _rule_alert("DozorPrinterSupplyLow", STARTED),
        _rule_alert("DozorUnknownDeviceOnLan", STARTED),
    ],
    ids=lambda alert: alert["labels"]["alertname"],
)
def test_chief_gets_email_and_telegram_in_ukrainian(
    alertmanager: Alertmanager, alert: dict[str, Any]
) -> None:
    alertmanager.push(alert)
    alertmanager.inbox.wait(emails=1, telegram=1)
    annotations, labels = alert["annotations"], alert["labels"]
    where = _where_uk(labels)

    (mail,) = alertmanager.inbox.emails
    assert mail["To"] == "it-chief@oblrada.example"
    assert mail["Subject"].startswith("[Дозор] ")
    assert annotations["summary_uk"] in mail["Subject"]
    assert mail.get_body(preferencelist=("html",)) is None  # plain text only
    body = _text(mail)
    assert f"Що сталося: {annotations['description_uk']}" in body
    assert f"Де: {where}, об’єкт «oblrada»" in body
    assert "Відколи: 10.03.2026 09:30 EET" in body
    assert f"Що робити: {annotations['action_uk']}" in body

    (message,) = alertmanager.inbox.telegram
    assert alertmanager.inbox.telegram_paths == [f"/bot{BOT_TOKEN}/sendMessage"]
    assert int(message["chat_id"]) == CHAT_ID and message["parse_mode"] == "HTML"
    text = message["text"].replace("&#39;", "'").replace("&#34;", '"')
    for line in (annotations["summary_uk"], annotations["description_uk"], annotations["action_uk"]):
        assert line in text
    assert f"📍 {where}, об’єкт «oblrada»" in text
    assert "🕒 з 10.03.2026 09:30 EET" in text


def test_english_is_selected_by_the_lang_label(alertmanager: Alertmanager) -> None:
    alert = _rule_alert("DozorAntivirusDisabled", STARTED, lang="en")
    alertmanager.push(alert)
    alertmanager.inbox.wait(emails=1, telegram=1)
    (mail,) = alertmanager.inbox.emails
    assert mail["Subject"] == f"[Dozor] 🔴 Urgent: {alert['annotations']['summary']}"
    body = _text(mail)
    assert f"What to do: {alert['annotations']['action']}" in body
    assert "Since: 10.03.2026 09:30 EET" in body
    assert "Що робити" not in body
    assert alert["annotations"]["description"] in alertmanager.inbox.telegram[0]["text"]


def _push_inhibited(alertmanager: Alertmanager, source: dict[str, Any], *targets: dict[str, Any]) -> None:
    """Push the source first and the targets once Alertmanager holds it, as Prometheus does (a
    switch alert fires after 10 minutes, the PCs' after 15)."""
    alertmanager.push(source)
    deadline = time.monotonic() + 5
    while not alertmanager.alerts():
        assert time.monotonic() < deadline, "Alertmanager did not take the source alert"
        time.sleep(0.05)
    alertmanager.push(*targets)
    alertmanager.inbox.wait(emails=1, telegram=1)
    time.sleep(1.5)  # several group_wait/group_interval periods: anything not inhibited would arrive


def test_switch_down_silences_the_pcs_behind_it(alertmanager: Alertmanager) -> None:
    now = datetime.now(UTC)
    switch = _rule_alert("DozorSwitchUnreachable", now)
    pcs = [_rule_alert("DozorAgentOffline", now), _rule_alert("DozorDeviceUnreachable", now)]
    _push_inhibited(alertmanager, switch, *pcs)
    assert [mail["Subject"] for mail in alertmanager.inbox.emails] == [
        f"[Дозор] 🔴 Терміново: {switch['annotations']['summary_uk']}"
    ]
    (message,) = alertmanager.inbox.telegram
    assert "sw-floor2" in message["text"] and "buh-03" not in message["text"]
    states = {alert["labels"]["alertname"]: alert["status"] for alert in alertmanager.alerts()}
    assert {name: status["state"] for name, status in states.items()} == {
        "DozorSwitchUnreachable": "active",
        "DozorAgentOffline": "suppressed",
        "DozorDeviceUnreachable": "suppressed",
    }
    assert states["DozorAgentOffline"]["inhibitedBy"]


def test_collector_down_silences_what_it_feeds(alertmanager: Alertmanager) -> None:
    now = datetime.now(UTC)
    collector = _rule_alert("DozorCollectorDown", now)
    fed = [
        _rule_alert(name, now) for name in ("DozorDiskFailing", "DozorUpsLowRuntime", "DozorHardwareRemoved")
    ]
    _push_inhibited(alertmanager, collector, *fed)
    assert [mail["Subject"] for mail in alertmanager.inbox.emails] == [
        f"[Дозор] 🔴 Терміново: {collector['annotations']['summary_uk']}"
    ]
    assert len(alertmanager.inbox.telegram) == 1
    states = {alert["labels"]["alertname"]: alert["status"]["state"] for alert in alertmanager.alerts()}
    assert states == {
        "DozorCollectorDown": "active",
        "DozorDiskFailing": "suppressed",
        "DozorUpsLowRuntime": "suppressed",
        "DozorHardwareRemoved": "suppressed",
    }


def test_started_time_is_in_the_past() -> None:
    """The fixed start time must stay in the past, or Alertmanager would treat the alerts as future."""
    assert datetime.now(UTC) - STARTED > timedelta(0)

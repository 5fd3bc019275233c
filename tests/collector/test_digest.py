"""The daily digest, for real: a store (SQLite and PostgreSQL) seeded through the same store functions
ingest and polling use, read and worded in Ukrainian (and English), and delivered by SMTP to an
aiosmtpd server on loopback — plainly, over STARTTLS with a login, and by the running collector's
schedule and the ``dozor-collector digest`` command."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest
from sqlalchemy.orm import Session, sessionmaker

from collector.config import DigestConfig, SmtpConfig, parse_config
from collector.notify.digest import (
    DigestSchedule,
    DigestSendError,
    build_digest,
    make_digest,
    read_digest_input,
    send_digest,
)
from collector.sources.snmp.store import apply_poll
from collector.store.agents import enroll_agent
from collector.store.db import make_engine, make_sessionmaker, migrate
from collector.store.devices import ensure_device
from collector.store.reports import apply_report
from tests import factories
from tests.collector.live_server import free_port

pytest.importorskip("aiosmtpd", reason="aiosmtpd is in the dev extra; run scripts/test.sh")
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)  # 08:00 in Kyiv
KYIV = ZoneInfo("Europe/Kyiv")


def _printer_facts(black: float, cyan: float) -> dict[str, Any]:
    def supply(index: int, description: str, colour: str, percent: float) -> dict[str, Any]:
        return {
            "supply": index, "description": description, "type": "toner", "colour": colour,
            "unit": "percent", "level": int(percent), "max": 100, "percent": percent,
        }  # fmt: skip

    return {
        "system": {"name": "prn-2-floor", "descr": "Brother"},
        "supplies": [supply(1, "Black Toner", "black", black), supply(2, "Cyan Toner", "cyan", cyan)],
    }


def _report(sessions: sessionmaker[Session], machine: int, at: datetime, inv: Any) -> int:
    with sessions.begin() as session:
        device_id, _ = enroll_agent(session, factories.machine_id(machine), f"OBLRADA-PC{machine:04d}", at)
        apply_report(session, device_id, factories.report(machine, inv=inv, at=at), at)
    return device_id


def seed(sessions: sessionmaker[Session]) -> None:
    """Five PCs (one offline, three with protection problems, one clean), a printer whose black
    toner runs out in days, a UPS that never answered, and the day's changes."""
    clean = factories.inventory(5)
    clean = msgspec.structs.replace(
        clean,
        security=msgspec.structs.replace(
            clean.security, updates=msgspec.structs.replace(clean.security.updates, pending_security_count=0)
        ),
    )
    _report(sessions, 1, NOW - timedelta(minutes=2), factories.inventory(1, firewall_on=False))
    _report(sessions, 2, NOW - timedelta(minutes=1), factories.inventory(2, antivirus_on=False))
    _report(sessions, 3, NOW - timedelta(days=2), clean)
    pc4 = _report(sessions, 4, NOW - timedelta(hours=3), factories.inventory(4))
    _report(sessions, 5, NOW - timedelta(minutes=1), clean)
    # Then PC 4 gets more memory: a hardware change of the day.
    modules = (("DIMM_A1", 8, "M471A1K43DB1"), ("DIMM_B1", 16, "M471A2K43DB1"))
    at = NOW - timedelta(minutes=1)
    with sessions.begin() as session:
        apply_report(
            session, pc4, factories.report(4, seq=2, inv=factories.inventory(4, modules=modules), at=at), at
        )
    # Black toner used ~3 points a day for 20 days; cyan idle.
    for days_ago, black in ((20, 80.0), (10, 50.0), (0, 20.0)):
        with sessions.begin() as session:
            apply_poll(
                session, "10.1.2.3", "printer", "Принтер 2-й поверх", _printer_facts(black, 60.0),
                NOW - timedelta(days=days_ago, minutes=5), location="к. 214",
            )  # fmt: skip
    with sessions.begin() as session:
        ensure_device(
            session, "10.1.2.9", "ups", "ДБЖ серверна", NOW - timedelta(days=1), location="серверна"
        )


def test_digest_names_the_problems_in_ukrainian(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    with sessions() as session:
        data = read_digest_input(session, NOW)
    digest = build_digest(
        data, NOW, language="uk", timezone=KYIV, offline_after=timedelta(minutes=5),
        device_down_after=timedelta(hours=1), supplies_within_days=14,
    )  # fmt: skip
    text = digest.text
    assert digest.subject == "Дозор: звіт за 29.11.2026 — проблем: 6"
    assert "стан комп’ютерів і пристроїв на 29.11.2026 08:00" in text
    assert "ПК: на зв’язку 4, не на зв’язку 1, усього 5." in text
    assert "  - OBLRADA-PC0003 — 27.11.2026 08:00" in text
    assert "OBLRADA-PC0001: вимкнено брандмауер (профілі: domain, private, public)" in text
    assert "OBLRADA-PC0002: вимкнено антивірус (Windows Defender)" in text
    assert "OBLRADA-PC0004: не встановлено оновлень безпеки: 1" in text
    assert "  - OBLRADA-PC0005:" not in text, "the clean PC has no problem listed"
    assert "Проблеми захисту ПК (3):" in text
    assert "  - ДБЖ серверна (ДБЖ, 10.1.2.9, серверна) — ще жодного разу не відповів" in text
    black = next(line for line in text.splitlines() if "Black Toner" in line)
    assert black.startswith("  - Принтер 2-й поверх (к. 214): Black Toner — 20 %, залишилось днів: ")
    days_left = float(black.split("залишилось днів: ")[1].split()[0])
    assert 5 < days_left < 9, black
    assert "Cyan Toner" not in text, "an idle supply at 60 % is not listed"
    assert "Зміни за добу (" in text and "обладнання" in text
    assert "(обладнання, додано): " in text or "(обладнання, змінено): " in text
    assert "Traceback" not in text


def test_digest_in_english_and_all_clear(sessions: sessionmaker[Session]) -> None:
    seed(sessions)
    with sessions() as session:
        data = read_digest_input(session, NOW)
    english = build_digest(
        data, NOW, language="en", timezone=KYIV, offline_after=timedelta(minutes=5),
        device_down_after=timedelta(hours=1), supplies_within_days=14,
    )  # fmt: skip
    assert english.subject == "Dozor: digest for 2026-11-29 — problems: 6"
    assert "OBLRADA-PC0001: firewall off (profiles: domain, private, public)" in english.text
    assert "Devices not answering (1):" in english.text
    empty = build_digest(
        type(data)(pcs=[], devices=[], supplies=[], changes=[]), NOW, language="uk", timezone=KYIV,
        offline_after=timedelta(minutes=5), device_down_after=timedelta(hours=1), supplies_within_days=14,
    )  # fmt: skip
    assert empty.problems == 0 and empty.subject.endswith("усе гаразд")
    assert "Змін за добу не зафіксовано." in empty.text


@dataclass
class Inbox:
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, count: int, timeout: float = 15) -> list[email.message.EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} emails, got {len(self.messages)}")


class _Handler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.inbox.lock:
            self.inbox.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp_server(certificate: tuple[Path, Path]) -> Iterator[tuple[int, Inbox]]:
    """aiosmtpd on loopback offering STARTTLS (the session's self-signed certificate) and a login
    (dozor / digest-secret) that it accepts only over TLS."""
    inbox = Inbox()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)

    def authenticate(
        server: object, session: object, envelope: object, mechanism: str, auth: Any
    ) -> AuthResult:
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (b"dozor", b"digest-secret")
        if ok:
            inbox.logins.append(auth.login.decode())
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        _Handler(inbox), hostname="127.0.0.1", port=free_port(), tls_context=context,
        authenticator=authenticate, auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def _config(port: int, certificate: Path, extra: str = "") -> DigestConfig:
    return parse_config(
        "digest:\n  enabled: true\n  sender: dozor@oblrada.example\n"
        "  recipients: [chief@oblrada.example, deputy@oblrada.example]\n"
        f"  smtp: {{host: 127.0.0.1, port: {port}, security: starttls, user: dozor,"
        f" password: '${{DOZOR_TEST_SMTP_PASSWORD}}', ca_file: '{certificate}'}}\n{extra}"
    ).digest


def test_digest_delivered_over_starttls_with_login(
    sessions: sessionmaker[Session],
    smtp_server: tuple[int, Inbox],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOZOR_TEST_SMTP_PASSWORD", "digest-secret")
    seed(sessions)
    port, inbox = smtp_server
    config = _config(port, certificate[0])
    assert "digest-secret" not in repr(config), "the password is hidden from logs"
    send_digest(make_digest(sessions, config, timedelta(minutes=5), NOW), config)
    (message,) = inbox.wait(1)
    assert inbox.logins == ["dozor"]
    assert message["Subject"] == "Дозор: звіт за 29.11.2026 — проблем: 6"
    assert message["To"] == "chief@oblrada.example, deputy@oblrada.example"
    assert message["Content-Language"] == "uk"
    body = message.get_content()
    assert "OBLRADA-PC0001: вимкнено брандмауер" in body
    assert "OBLRADA-PC0002: вимкнено антивірус" in body
    assert "ДБЖ серверна" in body and "Black Toner — 20 %" in body

    monkeypatch.setenv("DOZOR_TEST_SMTP_PASSWORD", "wrong-secret")
    refused = _config(port, certificate[0])
    with pytest.raises(DigestSendError, match=r"through 127\.0\.0\.1:\d+ \(starttls\)") as error:
        send_digest(make_digest(sessions, refused, timedelta(minutes=5), NOW), refused)
    assert "SMTPAuthenticationError" in str(error.value)
    assert "wrong-secret" not in str(error.value)
    assert len(inbox.messages) == 1


def test_unreachable_server_is_a_named_error(sessions: sessionmaker[Session]) -> None:
    config = DigestConfig(
        enabled=True, sender="dozor@oblrada.example", recipients=["chief@oblrada.example"],
        smtp=SmtpConfig(host="127.0.0.1", port=free_port(), security="none"),
    )  # fmt: skip
    with pytest.raises(DigestSendError, match="ConnectionRefusedError"):
        send_digest(make_digest(sessions, config, timedelta(minutes=5), NOW), config)


def test_schedule_sends_and_cli_prints(
    db_url: str, smtp_server: tuple[int, Inbox], certificate: tuple[Path, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The collector's scheduled job and ``dozor-collector digest`` read the same store."""
    monkeypatch.setenv("DOZOR_TEST_SMTP_PASSWORD", "digest-secret")
    engine = make_engine(db_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    seed(sessions)
    port, inbox = smtp_server
    schedule = DigestSchedule(_config(port, certificate[0]), sessions, timedelta(minutes=5))

    async def start_and_send() -> bool:
        await schedule.start()
        try:
            return await schedule.send_once()
        finally:
            await schedule.stop()

    assert asyncio.run(start_and_send()) is True
    (message,) = inbox.wait(1)
    assert message["Subject"].startswith("Дозор: звіт за ")
    engine.dispose()

    config_file = tmp_path / "collector.yaml"
    config_file.write_text(
        f"database: {{url: '{db_url}'}}\ndata_dir: {tmp_path}\ndigest: {{language: en}}\n", encoding="utf-8"
    )
    printed = subprocess.run(
        [sys.executable, "-m", "collector", "digest", "--config", str(config_file), "--print"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("Subject: Dozor: digest for ")
    assert "OBLRADA-PC0002: antivirus off (Windows Defender)" in printed.stdout
    command = [sys.executable, "-m", "collector", "digest", "--config", str(config_file)]
    ukrainian = subprocess.run(
        [*command, "--language", "uk", "--print"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "OBLRADA-PC0002: вимкнено антивірус (Windows Defender)" in ukrainian.stdout
    unsent = subprocess.run(
        [*command, "--send-now"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert unsent.returncode == 1
    assert "digest.smtp.host, digest.sender and digest.recipients must be set" in unsent.stderr
    assert "Traceback" not in unsent.stderr

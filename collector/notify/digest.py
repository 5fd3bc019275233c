"""The daily digest: an email to the sector chief with the state of the fleet, without Alertmanager.

``read_digest_input`` reads the store, ``build_digest`` (pure) words it in Ukrainian or English,
``send_digest`` hands it to the configured SMTP server, and :class:`DigestSchedule` sends it every
day at ``digest.send_at`` from the running collector. ``dozor-collector digest --print|--send-now``
does the same once from the command line.

With several collector replicas, enable the digest on one of them only: each enabled replica sends.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from collector.config import DigestConfig
from collector.sources.snmp.supplies import days_until
from collector.store.digest import (
    ChangeRow,
    PcRow,
    PolledDeviceRow,
    SupplyRow,
    changes_between,
    latest_supplies,
    pcs,
    polled_devices,
)

log = logging.getLogger(__name__)

SIGNATURES_OUTDATED_DAYS = 3.0
"""Same threshold as the DozorAntivirusSignaturesOutdated alert."""
SUPPLY_LOW_PERCENT = 10.0
"""Same threshold as the DozorPrinterSupplyLow alert."""
CHANGES_LISTED = 40
"""Changes of the day listed one by one; the rest are only counted."""

TEXTS: dict[str, dict[str, str]] = {
    "uk": {
        "subject": "Дозор: звіт за {date} — {status}",
        "all_clear": "усе гаразд",
        "problems": "проблем: {count}",
        "title": "Дозор — стан комп’ютерів і пристроїв на {moment}",
        "pcs": "ПК: на зв’язку {online}, не на зв’язку {offline}, усього {total}.",
        "offline": "Не на зв’язку (востаннє звітували):",
        "insecure": "Проблеми захисту ПК ({count}):",
        "security_none": "Проблем захисту ПК не виявлено.",
        "firewall_off": "вимкнено брандмауер (профілі: {profiles})",
        "antivirus_off": "вимкнено антивірус ({products})",
        "antivirus_outdated": "застарілі антивірусні бази ({product}{age})",
        "age_days": ", {days} дн.",
        "security_updates": "не встановлено оновлень безпеки: {count}",
        "updates_pending": "ПК, що чекають на встановлення оновлень: {count}.",
        "devices_down": "Пристрої не відповідають ({count}):",
        "devices_none": "Усі опитувані пристрої відповідають.",
        "last_answer": "востаннє відповідав {moment}",
        "never_answered": "ще жодного разу не відповів",
        "supplies": "Витратні матеріали закінчуються ({count}):",
        "supplies_none": "Витратні матеріали найближчим часом не закінчуються.",
        "supply_days": "залишилось днів: {days} (до {date})",
        "changes": "Зміни за добу ({count}): {by_category}.",
        "changes_none": "Змін за добу не зафіксовано.",
        "more": "… і ще {count} (дивіться журнал змін у Grafana або GET /api/v1/changes)",
        "footer": "Лист надіслав сервер Дозору. Подробиці — на панелях Grafana «Дозор».",
        "hardware": "обладнання",
        "software": "програми",
        "security": "захист",
        "system": "система",
        "added": "додано",
        "removed": "вилучено",
        "changed": "змінено",
        "switch": "комутатор",
        "printer": "принтер",
        "ups": "ДБЖ",
        "other": "пристрій",
        "pc": "ПК",
    },
    "en": {
        "subject": "Dozor: digest for {date} — {status}",
        "all_clear": "all clear",
        "problems": "problems: {count}",
        "title": "Dozor — state of the PCs and devices at {moment}",
        "pcs": "PCs: {online} online, {offline} offline, {total} in all.",
        "offline": "Offline (last report):",
        "insecure": "PC protection problems ({count}):",
        "security_none": "No PC protection problems found.",
        "firewall_off": "firewall off (profiles: {profiles})",
        "antivirus_off": "antivirus off ({products})",
        "antivirus_outdated": "antivirus signatures out of date ({product}{age})",
        "age_days": ", {days} days",
        "security_updates": "security updates not installed: {count}",
        "updates_pending": "PCs waiting for updates to be installed: {count}.",
        "devices_down": "Devices not answering ({count}):",
        "devices_none": "All polled devices answer.",
        "last_answer": "last answered {moment}",
        "never_answered": "has never answered",
        "supplies": "Supplies running out ({count}):",
        "supplies_none": "No supply runs out soon.",
        "supply_days": "days left: {days} (until {date})",
        "changes": "Changes of the day ({count}): {by_category}.",
        "changes_none": "No changes recorded in the last day.",
        "more": "… and {count} more (see the changes dashboard in Grafana or GET /api/v1/changes)",
        "footer": "Sent by the Dozor collector. Details are on the Dozor dashboards in Grafana.",
        "hardware": "hardware",
        "software": "software",
        "security": "security",
        "system": "system",
        "added": "added",
        "removed": "removed",
        "changed": "changed",
        "switch": "switch",
        "printer": "printer",
        "ups": "UPS",
        "other": "device",
        "pc": "PC",
    },
}
DATE_FORMATS = {
    "uk": ("%d.%m.%Y", "%d.%m.%Y %H:%M", "%d.%m %H:%M"),
    "en": ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%m-%d %H:%M"),
}


class DigestSendError(Exception):
    """The SMTP server could not be reached or refused the digest; worded for the log."""


@dataclass(frozen=True)
class DigestInput:
    """Everything the digest says, as read from the store."""

    pcs: list[PcRow]
    devices: list[PolledDeviceRow]
    supplies: list[SupplyRow]
    changes: list[ChangeRow]


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    problems: int
    """Offline PCs, PCs with protection problems, devices down and supplies running out."""


def read_digest_input(session: Session, now: datetime) -> DigestInput:
    """The store's view of the fleet and the changes of the 24 hours before ``now``."""
    return DigestInput(
        pcs=pcs(session),
        devices=polled_devices(session),
        supplies=latest_supplies(session),
        changes=changes_between(session, now - timedelta(days=1), now),
    )


def security_findings(security: dict[str, Any] | None, t: dict[str, str]) -> list[str]:
    """A PC's protection problems in words; the same conditions as the security alerts."""
    if not security:
        return []
    findings = []
    profiles_off = [p["profile"] for p in security.get("firewall") or [] if p.get("enabled") is False]
    if profiles_off:
        findings.append(t["firewall_off"].format(profiles=", ".join(profiles_off)))
    antivirus = security.get("antivirus") or []
    if antivirus and not any(product.get("enabled") for product in antivirus):
        findings.append(t["antivirus_off"].format(products=", ".join(p["name"] for p in antivirus)))
    for product in antivirus:
        age = product.get("signature_age_days")
        outdated = age > SIGNATURES_OUTDATED_DAYS if age is not None else product.get("up_to_date") is False
        if product.get("enabled") and outdated:
            age_text = "" if age is None else t["age_days"].format(days=f"{age:.0f}")
            findings.append(t["antivirus_outdated"].format(product=product["name"], age=age_text))
    pending_security = (security.get("updates") or {}).get("pending_security_count") or 0
    if pending_security > 0:
        findings.append(t["security_updates"].format(count=pending_security))
    return findings


def build_digest(
    data: DigestInput,
    now: datetime,
    *,
    language: str,
    timezone: ZoneInfo,
    offline_after: timedelta,
    device_down_after: timedelta,
    supplies_within_days: float,
) -> Digest:
    """Subject and plain text of the digest at ``now``, in ``language`` (``uk`` or ``en``)."""
    t = TEXTS[language]
    day_format, moment_format, short_format = DATE_FORMATS[language]

    def moment(at: datetime, pattern: str = moment_format) -> str:
        return at.astimezone(timezone).strftime(pattern)

    lines = [t["title"].format(moment=moment(now)), ""]
    offline = [pc for pc in data.pcs if pc.last_seen_at < now - offline_after]
    lines.append(
        t["pcs"].format(online=len(data.pcs) - len(offline), offline=len(offline), total=len(data.pcs))
    )
    if offline:
        lines.append(t["offline"])
        lines += [f"  - {pc.hostname} — {moment(pc.last_seen_at)}" for pc in offline]
    lines.append("")

    insecure = [(pc.hostname, found) for pc in data.pcs if (found := security_findings(pc.security, t))]
    if insecure:
        lines.append(t["insecure"].format(count=len(insecure)))
        lines += [f"  - {hostname}: {'; '.join(found)}" for hostname, found in insecure]
    else:
        lines.append(t["security_none"])
    waiting = sum(1 for pc in data.pcs if ((pc.security or {}).get("updates") or {}).get("pending_count"))
    if waiting:
        lines.append(t["updates_pending"].format(count=waiting))
    lines.append("")

    down = [
        device
        for device in data.devices
        if device.last_success_at is None or device.last_success_at < now - device_down_after
    ]
    if down:
        lines.append(t["devices_down"].format(count=len(down)))
        for device in down:
            where = ", ".join(
                part for part in (t.get(device.kind, device.kind), device.address, device.location) if part
            )
            answered = (
                t["never_answered"]
                if device.last_success_at is None
                else t["last_answer"].format(moment=moment(device.last_success_at))
            )
            lines.append(f"  - {device.name} ({where}) — {answered}")
    else:
        lines.append(t["devices_none"])
    lines.append("")

    running_out = []
    for supply in data.supplies:
        days = days_until(supply.empty_at, now)
        soon = days is not None and days <= supplies_within_days
        low = supply.percent < SUPPLY_LOW_PERCENT and "waste" not in supply.supply.lower()
        if soon or low:
            running_out.append((days if days is not None else float("inf"), supply, days))
    running_out.sort(key=lambda entry: (entry[0], entry[1].device, entry[1].supply))
    if running_out:
        lines.append(t["supplies"].format(count=len(running_out)))
        for _, supply, days in running_out:
            where = f" ({supply.location})" if supply.location else ""
            line = f"  - {supply.device}{where}: {supply.supply} — {supply.percent:.0f} %"
            if days is not None and supply.empty_at is not None:
                line += ", " + t["supply_days"].format(
                    days=f"{days:g}", date=moment(supply.empty_at, day_format)
                )
            lines.append(line)
    else:
        lines.append(t["supplies_none"])
    lines.append("")

    if data.changes:
        counts: dict[str, int] = {}
        for change in data.changes:
            counts[change.category] = counts.get(change.category, 0) + 1
        by_category = ", ".join(f"{t.get(name, name)} {count}" for name, count in sorted(counts.items()))
        lines.append(t["changes"].format(count=len(data.changes), by_category=by_category))
        for change in data.changes[-CHANGES_LISTED:][::-1]:
            what = f"{t.get(change.category, change.category)}, {t.get(change.kind, change.kind)}"
            lines.append(f"  - {moment(change.at, short_format)} {change.device} ({what}): {change.summary}")
        if len(data.changes) > CHANGES_LISTED:
            lines.append("  " + t["more"].format(count=len(data.changes) - CHANGES_LISTED))
    else:
        lines.append(t["changes_none"])
    lines += ["", "-- ", t["footer"], ""]

    problems = len(offline) + len(insecure) + len(down) + len(running_out)
    status = t["problems"].format(count=problems) if problems else t["all_clear"]
    subject = t["subject"].format(date=moment(now, day_format), status=status)
    return Digest(subject=subject, text="\n".join(lines), problems=problems)


def make_digest(
    sessions: sessionmaker[Session],
    config: DigestConfig,
    offline_after: timedelta,
    now: datetime | None = None,
) -> Digest:
    """The digest of the store as it is now, worded as the config says."""
    now = now or datetime.now(UTC)
    with sessions() as session:
        data = read_digest_input(session, now)
    return build_digest(
        data,
        now,
        language=config.language,
        timezone=ZoneInfo(config.timezone),
        offline_after=offline_after,
        device_down_after=timedelta(seconds=config.device_down_after_seconds),
        supplies_within_days=config.supplies_within_days,
    )


def send_digest(digest: Digest, config: DigestConfig) -> None:
    """Mail the digest to every recipient through the configured SMTP server."""
    smtp = config.smtp
    if not (smtp.host and config.sender and config.recipients):
        raise DigestSendError("digest.smtp.host, digest.sender and digest.recipients must be set to send")
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = config.sender
    message["To"] = ", ".join(config.recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    message.set_content(digest.text, charset="utf-8")
    message["Content-Language"] = config.language  # after set_content, which resets Content-* headers
    context = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=context)
            if smtp.user is not None and smtp.password is not None:
                client.login(smtp.user, smtp.password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DigestSendError(
            f"cannot send the digest through {smtp.host}:{smtp.port} ({smtp.security}): "
            f"{exc.__class__.__name__}: {exc}"
        ) from None


class DigestSchedule:
    """Sends the digest every day at ``digest.send_at`` local time; runs on the app's event loop."""

    name = "digest"

    def __init__(
        self, config: DigestConfig, sessions: sessionmaker[Session], offline_after: timedelta
    ) -> None:
        self._config = config
        self._sessions = sessions
        self._offline_after = offline_after
        self._scheduler: AsyncIOScheduler | None = None

    async def start(self) -> None:
        hour, minute = (int(part) for part in self._config.send_at.split(":"))
        timezone = ZoneInfo(self._config.timezone)
        self._scheduler = AsyncIOScheduler(timezone=timezone)
        self._scheduler.add_job(
            self.send_once,
            CronTrigger(hour=hour, minute=minute, timezone=timezone),
            id="dozor-digest",
            misfire_grace_time=3600,
            coalesce=True,
            max_instances=1,
        )
        self._scheduler.start()
        log.info(
            "daily digest at %s %s to %d recipients",
            self._config.send_at,
            timezone,
            len(self._config.recipients),
        )

    async def send_once(self) -> bool:
        """Build and send the digest now; a failure is logged (the next day tries again)."""
        try:
            digest = await asyncio.to_thread(make_digest, self._sessions, self._config, self._offline_after)
            await asyncio.to_thread(send_digest, digest, self._config)
        except DigestSendError as exc:
            log.error("daily digest not sent: %s", exc)
            return False
        except Exception as exc:  # the store may be briefly unreachable; tomorrow is another try
            log.error("daily digest not built: %s: %s", exc.__class__.__name__, exc)
            return False
        log.info("daily digest sent: %s", digest.subject)
        return True

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

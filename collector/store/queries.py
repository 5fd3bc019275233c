"""Read views of the store as msgspec structs, which the API encodes as they are.

Inventory documents (hardware, security, health) are returned as the JSON stored, not re-validated
into the report structs: a view must keep working for facts written under an older schema version
or by another source.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from msgspec import Struct
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from collector.store.models import ChangeEvent, Device, InstalledSoftware

AGENT_KIND = "pc"


class SecurityProblems(Struct):
    """What a chief asks about first; counts of items, and the risky switches that are on."""

    firewall_off: int = 0
    """Firewall profiles turned off."""
    antivirus_off: int = 0
    antivirus_outdated: int = 0
    unencrypted_volumes: int = 0
    exposures: list[str] = []
    """Among ``rdp_enabled``, ``smb1_enabled``, ``guest_enabled``, ``uac_disabled``, ``secure_boot_off``."""


class HostSummary(Struct):
    id: int
    hostname: str
    machine_id: str | None
    os: str | None
    last_seen_at: datetime
    online: bool
    lifecycle: str
    agent_version: str | None
    security_problems: SecurityProblems | None
    """None until the first inventory arrived."""
    pending_approval: bool = False
    """Enrolled under ``enrollment.require_approval`` and not approved yet: its reports are flagged."""
    schema_version: int | None = None
    """The report schema the agent sends: an old agent (1) lacks the newer facts."""
    clone_conflict: bool = False
    """Another live PC enrolled with this one's machine id (imaged from one master)."""


class SoftwareEntry(Struct):
    name: str
    version: str | None
    publisher: str | None
    source: str
    architecture: str | None
    install_date: str | None


class HostDetail(Struct):
    id: int
    hostname: str
    machine_id: str | None
    lifecycle: str
    online: bool
    first_seen_at: datetime
    last_seen_at: datetime
    agent_version: str | None
    hardware: dict[str, Any] | None
    software: list[SoftwareEntry]
    hotfixes: list[dict[str, Any]] | None
    security: dict[str, Any] | None
    facts_at: datetime | None
    health: dict[str, Any] | None
    health_at: datetime | None
    probe_errors: list[dict[str, Any]]
    reports_accepted: int
    seq_gaps: int
    last_seq: int
    pending_approval: bool = False
    schema_version: int | None = None
    clone_conflict: bool = False
    clone_of: int | None = None
    """The host whose machine id this clone shares."""
    hardware_uuid: str | None = None


class CatalogueEntry(Struct):
    name: str
    version: str | None
    publisher: str | None
    host_count: int


class ChangeView(Struct):
    id: int
    device_id: int
    hostname: str
    at: datetime
    source: str
    category: str
    kind: str
    subject: str
    old_value: Any
    new_value: Any
    summary: str


class FleetRow(Struct):
    """What the in-memory fleet view is rebuilt from; ``facts`` holds only hardware and security."""

    device_id: int
    hostname: str
    machine_id: str
    last_seen_at: datetime
    agent_version: str | None
    health: dict[str, Any] | None
    facts: dict[str, Any] | None
    probe_errors: int
    pending_approval: bool
    clone_conflict: bool


def list_hosts(session: Session, now: datetime, offline_after: timedelta) -> list[HostSummary]:
    """Every PC, by hostname. Only the small parts of the inventory documents are read."""
    rows = session.execute(
        select(
            Device.id,
            Device.hostname,
            Device.machine_id,
            Device.facts[("hardware", "os", "name")].as_string(),
            Device.last_seen_at,
            Device.lifecycle,
            Device.agent_version,
            Device.facts["security"],
            Device.pending_approval,
            Device.schema_version,
            Device.clone_conflict,
        )
        .where(Device.kind == AGENT_KIND)
        .order_by(Device.hostname, Device.id)
    )
    return [
        HostSummary(
            id=row[0],
            hostname=row[1],
            machine_id=row[2],
            os=row[3],
            last_seen_at=row[4],
            online=row[4] >= now - offline_after,
            lifecycle=row[5],
            agent_version=row[6],
            security_problems=None if row[7] is None else security_problems(row[7]),
            pending_approval=row[8],
            schema_version=row[9],
            clone_conflict=row[10],
        )
        for row in rows
    ]


def security_problems(security: dict[str, Any]) -> SecurityProblems:
    antivirus = security.get("antivirus") or []
    switches = {
        "rdp_enabled": security.get("rdp_enabled") is True,
        "smb1_enabled": security.get("smb1_enabled") is True,
        "guest_enabled": security.get("guest_enabled") is True,
        "uac_disabled": security.get("uac_enabled") is False,
        "secure_boot_off": security.get("secure_boot") is False,
    }
    return SecurityProblems(
        firewall_off=sum(not profile["enabled"] for profile in security.get("firewall") or []),
        antivirus_off=sum(product.get("enabled") is False for product in antivirus),
        antivirus_outdated=sum(product.get("up_to_date") is False for product in antivirus),
        unencrypted_volumes=sum(not volume["encrypted"] for volume in security.get("disk_encryption") or []),
        exposures=[name for name, exposed in switches.items() if exposed],
    )


def get_host(session: Session, device_id: int, now: datetime, offline_after: timedelta) -> HostDetail | None:
    device = session.get(Device, device_id)
    if device is None:
        return None
    facts = device.facts or {}
    software = session.execute(
        select(
            InstalledSoftware.name,
            InstalledSoftware.version,
            InstalledSoftware.publisher,
            InstalledSoftware.source,
            InstalledSoftware.architecture,
            InstalledSoftware.install_date,
        )
        .where(InstalledSoftware.device_id == device_id)
        .order_by(InstalledSoftware.name, InstalledSoftware.version, InstalledSoftware.id)
    )
    return HostDetail(
        id=device.id,
        hostname=device.hostname,
        machine_id=device.machine_id,
        lifecycle=device.lifecycle,
        online=device.last_seen_at >= now - offline_after,
        first_seen_at=device.first_seen_at,
        last_seen_at=device.last_seen_at,
        agent_version=device.agent_version,
        hardware=facts.get("hardware"),
        software=[SoftwareEntry(*row) for row in software],
        hotfixes=facts.get("hotfixes"),
        security=facts.get("security"),
        facts_at=device.facts_at,
        health=device.health,
        health_at=device.health_at,
        probe_errors=device.probe_errors or [],
        reports_accepted=device.reports_accepted,
        seq_gaps=device.seq_gaps,
        last_seq=device.last_seq,
        pending_approval=device.pending_approval,
        schema_version=device.schema_version,
        clone_conflict=device.clone_conflict,
        clone_of=device.clone_of,
        hardware_uuid=device.hardware_uuid,
    )


def software_catalogue(session: Session, name_like: str | None) -> list[CatalogueEntry]:
    """Each (name, version, publisher) in the fleet with the number of hosts that have it;
    ``name_like`` is a case-insensitive substring of the name."""
    query = select(
        InstalledSoftware.name,
        InstalledSoftware.version,
        InstalledSoftware.publisher,
        func.count(InstalledSoftware.device_id.distinct()),
    ).group_by(InstalledSoftware.name, InstalledSoftware.version, InstalledSoftware.publisher)
    if name_like:
        query = query.where(InstalledSoftware.name.icontains(name_like, autoescape=True))
    query = query.order_by(InstalledSoftware.name, InstalledSoftware.version, InstalledSoftware.publisher)
    return [CatalogueEntry(*row) for row in session.execute(query)]


def list_changes(
    session: Session, device_id: int | None, since: datetime | None, until: datetime | None, limit: int
) -> list[ChangeView]:
    """Newest first; ``since`` inclusive, ``until`` exclusive."""
    query = (
        select(
            ChangeEvent.id,
            ChangeEvent.device_id,
            Device.hostname,
            ChangeEvent.at,
            ChangeEvent.source,
            ChangeEvent.category,
            ChangeEvent.kind,
            ChangeEvent.subject,
            ChangeEvent.old_value,
            ChangeEvent.new_value,
            ChangeEvent.summary,
        )
        .join(Device)
        .order_by(ChangeEvent.at.desc(), ChangeEvent.id.desc())
        .limit(limit)
    )
    if device_id is not None:
        query = query.where(ChangeEvent.device_id == device_id)
    if since is not None:
        query = query.where(ChangeEvent.at >= since)
    if until is not None:
        query = query.where(ChangeEvent.at < until)
    return [ChangeView(*row) for row in session.execute(query)]


def fleet_rows(session: Session, seen_since: datetime | None = None) -> list[FleetRow]:
    """Every agent's PC (or those seen since ``seen_since``) with what the metrics need, without
    the (large) software lists."""
    rows = session.execute(
        select(
            Device.id,
            Device.hostname,
            Device.machine_id,
            Device.last_seen_at,
            Device.agent_version,
            Device.health,
            Device.facts["hardware"],
            Device.facts["security"],
            Device.probe_errors,
            Device.pending_approval,
            Device.clone_conflict,
        ).where(
            Device.kind == AGENT_KIND,
            Device.machine_id.is_not(None),
            true() if seen_since is None else Device.last_seen_at >= seen_since,
        )
    )
    return [
        FleetRow(
            device_id=row[0],
            hostname=row[1],
            machine_id=row[2],
            last_seen_at=row[3],
            agent_version=row[4],
            health=row[5],
            facts=None if row[6] is None and row[7] is None else {"hardware": row[6], "security": row[7]},
            probe_errors=len(row[8] or ()),
            pending_approval=row[9],
            clone_conflict=row[10],
        )
        for row in rows
    ]

"""Admin routes over network devices' running-config backups and SSH host keys.

Config texts and diffs are masked (``collector.sources.ssh.mask_secrets``) unless the request says
``?raw=true``. Every route here needs the admin token, and that is the one credential that can ask
for raw text: an agent's token or none gets 401 whatever the query says. A raw answer carries
``Cache-Control: no-store`` and is logged as an audit line (device, version, client), never with
its content.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from collector.agents.ingest import Rejected
from collector.api.common import Admin, MsgspecResponse, decode_body, json_body, json_responses, read_store
from collector.runtime import Runtime
from collector.sources.ssh import store
from collector.sources.ssh.config_text import config_diff, mask_secrets
from collector.sources.ssh.schedule import SshPolling
from collector.store import devices as devices_store

log = logging.getLogger(__name__)
router = APIRouter(tags=["configs"])

Raw = Annotated[bool, Query(description="secrets in clear (admin token only; logged as an audit line)")]


class ConfigVersionView(store.ConfigVersionSummary, kw_only=True):
    device_id: int
    platform: str
    masked: bool
    """False only when ``raw=true`` was asked for."""
    text: str


class ConfigDiffView(msgspec.Struct, kw_only=True):
    device_id: int
    from_version: int
    to_version: int
    masked: bool
    diff: str
    """Unified diff (``diff -u`` format); empty when the versions are equal."""


class BackupResultView(msgspec.Struct, kw_only=True):
    device_id: int
    ok: bool
    error_kind: str | None
    """A named failure (``auth_failed``, ``timeout``, ``host_key_changed``, ``garbage_output``…)."""
    error_message: str | None
    version_id: int | None
    """The newest stored version after this backup."""
    new_version: bool
    config_changed: bool
    fact_errors: dict[str, str]
    changes: list[str]
    """Summaries of the change events this backup recorded."""
    seconds: float
    status: store.SshStatus


class AcceptHostKey(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    by: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    """Who accepts the key (recorded in the change history with the client's address)."""
    fingerprint: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    """The ``SHA256:…`` fingerprint checked with the device; refused if the device shows another."""


def _no_store(response: MsgspecResponse, raw: bool) -> MsgspecResponse:
    if raw:
        response.headers["Cache-Control"] = "no-store"
    return response


def _audit(request: Request, what: str) -> None:
    client = request.client.host if request.client else "unknown"
    log.warning("raw config shown (secrets in clear): %s, to %s", what, client)


async def _device_or_404(runtime: Admin, device_id: int) -> None:
    def read() -> bool:
        with runtime.sessions() as session:
            return devices_store.get_device(session, device_id) is not None

    if not await run_in_threadpool(read):
        raise Rejected(404, "not_found", f"no network device with id {device_id}")


@router.get(
    "/devices/{device_id}/ssh",
    responses=json_responses(store.SshStatus, 401, 404),
    summary="A device's SSH side: trusted and pending host keys, last backup, number of versions",
)
async def ssh_status(device_id: int, runtime: Admin) -> MsgspecResponse:
    await _device_or_404(runtime, device_id)

    return MsgspecResponse(await read_store(runtime, store.ssh_status, device_id))


@router.get(
    "/devices/{device_id}/configs",
    responses=json_responses(list[store.ConfigVersionSummary], 401, 404),
    summary="A device's running-config versions, newest first (time, digest, size)",
)
async def list_versions(device_id: int, runtime: Admin) -> MsgspecResponse:
    await _device_or_404(runtime, device_id)

    return MsgspecResponse(await read_store(runtime, store.list_config_versions, device_id))


@router.get(
    "/devices/{device_id}/configs/diff",
    responses=json_responses(ConfigDiffView, 401, 404),
    summary="Unified diff between two versions (default: the newest and the one before it)",
)
async def diff_versions(
    device_id: int,
    runtime: Admin,
    request: Request,
    from_version: Annotated[int | None, Query(alias="from")] = None,
    to_version: Annotated[int | None, Query(alias="to")] = None,
    raw: Raw = False,
) -> MsgspecResponse:
    def read() -> tuple[store.ConfigVersionText | None, store.ConfigVersionText | None]:
        with runtime.sessions() as session:
            new = store.get_config_version(session, device_id, to_version)
            if new is None:
                return None, None
            old_id = (
                from_version
                if from_version is not None
                else store.previous_version_id(session, device_id, new.id)
            )
            old = store.get_config_version(session, device_id, old_id) if old_id is not None else new
            return old, new

    old, new = await run_in_threadpool(read)
    if old is None or new is None:
        raise Rejected(404, "not_found", f"device {device_id} has no such config version")
    if raw:
        _audit(request, f"device {device_id} diff {old.id}..{new.id}")
    diff = config_diff(
        old.text,
        new.text,
        platform_name=new.platform,
        raw=raw,
        old_label=f"version {old.id} ({old.at.isoformat()})",
        new_label=f"version {new.id} ({new.at.isoformat()})",
    )
    view = ConfigDiffView(
        device_id=device_id, from_version=old.id, to_version=new.id, masked=not raw, diff=diff
    )
    return _no_store(MsgspecResponse(view), raw)


@router.get(
    "/devices/{device_id}/configs/{version_id}",
    responses=json_responses(ConfigVersionView, 401, 404),
    summary="One running-config version (masked unless raw=true)",
)
async def get_version(
    device_id: int, version_id: int, runtime: Admin, request: Request, raw: Raw = False
) -> MsgspecResponse:
    version = await read_store(runtime, store.get_config_version, device_id, version_id)
    if version is None:
        raise Rejected(404, "not_found", f"device {device_id} has no config version {version_id}")
    if raw:
        _audit(request, f"device {device_id} version {version_id}")
    view = ConfigVersionView(
        **{name: getattr(version, name) for name in store.ConfigVersionSummary.__struct_fields__},
        device_id=device_id,
        platform=version.platform,
        masked=not raw,
        text=version.text if raw else mask_secrets(version.platform, version.text),
    )
    return _no_store(MsgspecResponse(view), raw)


def _polling(runtime: Runtime) -> SshPolling:
    polling = runtime.ssh_backups
    if polling is None:
        raise Rejected(409, "ssh_not_configured", "this collector backs up no SSH devices (section ssh)")
    return polling


@router.post(
    "/devices/{device_id}/configs/backup",
    responses=json_responses(BackupResultView, 401, 404, 409),
    summary="Back the device's running config up now (waits for the session, bounded by ssh.timeout_seconds)",
)
async def backup_now(device_id: int, runtime: Admin, request: Request) -> MsgspecResponse:
    polling = _polling(runtime)

    def read() -> str | None:
        with runtime.sessions() as session:
            row = devices_store.get_device(session, device_id)
            return None if row is None else row.address

    address = await run_in_threadpool(read)
    device = polling.device_at(address) if address is not None else None
    if device is None:
        raise Rejected(404, "not_found", f"device {device_id} is not among the configured SSH devices")
    result = await polling.backup_now(device)
    return MsgspecResponse(
        BackupResultView(
            device_id=result.device_id,
            ok=result.error_kind is None,
            error_kind=result.error_kind,
            error_message=result.error_message,
            version_id=result.version_id,
            new_version=result.new_version,
            config_changed=result.config_changed,
            fact_errors=result.fact_errors,
            changes=[change.summary for change in result.changes],
            seconds=round(result.seconds, 3),
            status=result.status,
        )
    )


@router.post(
    "/devices/{device_id}/ssh/accept-host-key",
    responses=json_responses(store.SshStatus, 401, 404, 409),
    openapi_extra=json_body(AcceptHostKey),
    summary="Trust the new SSH host key the device presented (recorded with who accepted it)",
)
async def accept_host_key(device_id: int, runtime: Admin, request: Request) -> MsgspecResponse:
    body = await decode_body(request, AcceptHostKey)
    await _device_or_404(runtime, device_id)
    client = request.client.host if request.client else "unknown"

    def write() -> store.SshStatus:
        with runtime.sessions.begin() as session:
            store.accept_host_key(
                session,
                device_id,
                by=f"{body.by} (API, from {client})",
                at=datetime.now(UTC),
                fingerprint=body.fingerprint,
            )
            return store.ssh_status(session, device_id)

    try:
        status = await run_in_threadpool(write)
    except (store.NothingToAccept, store.FingerprintMismatch) as exc:
        raise Rejected(409, "host_key_not_pending", str(exc)) from None
    log.info("SSH host key of device %d accepted by %s", device_id, body.by)
    known = runtime.backups.get(device_id)
    if known is not None:  # the mismatch metric drops now, not at the next backup
        runtime.backups.record(known.name, status, changed=False, error_kind=None)
    return MsgspecResponse(status)

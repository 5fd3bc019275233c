"""Admin routes over the inventory of PCs: reads, token revocation, enrollment approval."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec
from fastapi import APIRouter, Query, Request

from agent.schema.report import Hardware, Security
from collector.agents.ingest import Rejected
from collector.agents.windows11 import Readiness, assess
from collector.api.common import Admin, MsgspecResponse, decode_body, json_body, json_responses, read_store
from collector.store import queries

router = APIRouter(tags=["inventory"])


class RevokeResponse(msgspec.Struct):
    device_id: int
    revoked_tokens: int


@router.get(
    "/hosts", responses=json_responses(list[queries.HostSummary], 401), summary="All PCs with an agent"
)
async def list_hosts(runtime: Admin) -> MsgspecResponse:
    return MsgspecResponse(
        await read_store(runtime, queries.list_hosts, datetime.now(UTC), runtime.offline_after)
    )


class HostView(queries.HostDetail, kw_only=True):
    windows11: Readiness
    """Can the PC move to Windows 11, and which requirements fail or are unknown."""


@router.get(
    "/hosts/{device_id}",
    responses=json_responses(HostView, 401, 404),
    summary="One PC: hardware, software, security posture, health and Windows 11 readiness",
)
async def get_host(device_id: int, runtime: Admin) -> MsgspecResponse:
    now = datetime.now(UTC)
    host = await read_store(runtime, queries.get_host, device_id, now, runtime.offline_after)
    if host is None:
        raise Rejected(404, "not_found", f"no host with id {device_id}")
    hardware = None if host.hardware is None else msgspec.convert(host.hardware, Hardware)
    security = None if host.security is None else msgspec.convert(host.security, Security)
    readiness = assess(hardware, security, now.date())
    return MsgspecResponse(HostView(**msgspec.structs.asdict(host), windows11=readiness))


@router.get(
    "/software",
    responses=json_responses(list[queries.CatalogueEntry], 401),
    summary="Fleet software catalogue: each name and version with the number of PCs that have it",
)
async def software_catalogue(
    runtime: Admin,
    name: Annotated[str | None, Query(max_length=256, description="substring of the name")] = None,
) -> MsgspecResponse:
    return MsgspecResponse(await read_store(runtime, queries.software_catalogue, name))


Since = Annotated[datetime | None, Query(description="ISO 8601, inclusive")]
Until = Annotated[datetime | None, Query(description="ISO 8601, exclusive")]
Limit = Annotated[int, Query(ge=1, le=10_000)]


async def _changes(runtime: Admin, device_id: int | None, since, until, limit: int) -> MsgspecResponse:  # type: ignore[no-untyped-def]
    return MsgspecResponse(await read_store(runtime, queries.list_changes, device_id, since, until, limit))


@router.get(
    "/changes",
    responses=json_responses(list[queries.ChangeView], 401),
    summary="Change history of the whole fleet",
)
async def fleet_changes(
    runtime: Admin, since: Since = None, until: Until = None, limit: Limit = 1000
) -> MsgspecResponse:
    return await _changes(runtime, None, since, until, limit)


@router.get(
    "/hosts/{device_id}/changes",
    responses=json_responses(list[queries.ChangeView], 401),
    summary="Change history of one PC",
)
async def host_changes(
    device_id: int, runtime: Admin, since: Since = None, until: Until = None, limit: Limit = 1000
) -> MsgspecResponse:
    return await _changes(runtime, device_id, since, until, limit)


@router.post(
    "/hosts/{device_id}/revoke-tokens",
    responses=json_responses(RevokeResponse, 401),
    summary="Revoke the agent tokens of a PC (the agent must enroll again)",
)
async def revoke_tokens(device_id: int, runtime: Admin) -> MsgspecResponse:
    revoked = await runtime.ingest.revoke(device_id)
    return MsgspecResponse(RevokeResponse(device_id=device_id, revoked_tokens=revoked))


class ApprovalRequest(msgspec.Struct, forbid_unknown_fields=True):
    by: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    """Who approves (recorded with the time in the host's history)."""


class ApprovalResponse(msgspec.Struct):
    device_id: int
    approved_by: str


@router.post(
    "/hosts/{device_id}/approve",
    responses=json_responses(ApprovalResponse, 401, 404, 409, 422),
    openapi_extra=json_body(ApprovalRequest),
    summary="Approve a PC that enrolled under enrollment.require_approval (recorded: who, when)",
)
async def approve_host(device_id: int, runtime: Admin, request: Request) -> MsgspecResponse:
    body = await decode_body(request, ApprovalRequest)
    by = body.by.strip()
    if not by:
        raise Rejected(422, "invalid_body", "by: say who approves")
    if not await runtime.ingest.approve(device_id, by):
        raise Rejected(404, "not_found", f"no host with id {device_id}")
    return MsgspecResponse(ApprovalResponse(device_id=device_id, approved_by=by))

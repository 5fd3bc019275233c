"""Admin routes over the LAN: every device with its lifecycle, switch port and security posture
side by side; accepting, annotating and retiring devices (who did it is recorded); a sweep now."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError

from collector.agents.ingest import Rejected
from collector.api.common import Admin, MsgspecResponse, decode_body, json_body, json_responses, read_store
from collector.sources.discovery import store
from collector.sources.discovery.schedule import RunSummary

log = logging.getLogger(__name__)
router = APIRouter(tags=["lan"])


class LifecycleRequest(store.Annotation, kw_only=True, forbid_unknown_fields=True):
    by: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    """Who does it (recorded with the client's address); default ``admin`` (one admin token)."""


@router.get(
    "/lan/devices",
    responses=json_responses(list[store.LanDevice], 401),
    summary="Every device on the LAN: lifecycle, switch port and security posture side by side",
)
async def list_lan_devices(
    runtime: Admin,
    kind: Annotated[str | None, Query(max_length=16, description="pc, switch, printer, discovered…")] = None,
    lifecycle: Annotated[Literal["discovered", "accepted", "retired"] | None, Query()] = None,
    vlan: Annotated[
        int | None, Query(ge=0, le=4095, description="on an access port of this VLAN now")
    ] = None,
    switch_id: Annotated[int | None, Query(description="plugged into this switch now")] = None,
    firewall: Annotated[
        Literal["on", "off"] | None, Query(description="PCs whose firewall is on/off")
    ] = None,
) -> MsgspecResponse:
    filters = store.Filters(kind=kind, lifecycle=lifecycle, vlan=vlan, switch_id=switch_id, firewall=firewall)

    return MsgspecResponse(await read_store(runtime, store.list_lan_devices, filters))


@router.get(
    "/lan/devices/{device_id}",
    responses=json_responses(store.LanDeviceDetail, 401, 404),
    summary="One device: where it was plugged in over time and every lifecycle action on it",
)
async def get_lan_device(device_id: int, runtime: Admin) -> MsgspecResponse:
    device = await read_store(runtime, store.get_lan_device, device_id)
    if device is None:
        raise Rejected(404, "not_found", f"no device with id {device_id}")
    return MsgspecResponse(device)


async def _act(device_id: int, action: store.Action, runtime: Admin, request: Request) -> MsgspecResponse:
    body = await decode_body(request, LifecycleRequest, empty=b"{}")
    client = request.client.host if request.client else "unknown"
    by = f"{body.by or 'admin'} (API, from {client})"
    annotation = store.Annotation(**{f: getattr(body, f) for f in store.Annotation.__struct_fields__})

    def write() -> store.LanDeviceDetail | None:
        with runtime.sessions.begin() as session:
            if not store.apply_action(session, device_id, action, by, datetime.now(UTC), annotation):
                return None
            return store.get_lan_device(session, device_id)

    try:
        device = await run_in_threadpool(write)
    except store.LifecycleRefused as exc:
        raise Rejected(409, "lifecycle_refused", str(exc)) from None
    if device is None:
        raise Rejected(404, "not_found", f"no device with id {device_id}")
    if device.lifecycle != "discovered":
        runtime.discovery.forget(device_id)  # no longer unknown: the metric drops now
    log.info("device %d: %s by %s", device_id, action, by)
    return MsgspecResponse(device)


def _action_route(action: store.Action, summary: str) -> None:
    async def route(device_id: int, runtime: Admin, request: Request) -> MsgspecResponse:
        return await _act(device_id, action, runtime, request)

    router.add_api_route(
        f"/devices/{{device_id}}/{action}",
        route,
        methods=["POST"],
        name=f"{action}_device",
        responses=json_responses(store.LanDeviceDetail, 401, 404, 409, 422),
        openapi_extra=json_body(LifecycleRequest),
        summary=summary,
    )


_action_route(
    "accept", "Accept the device into operation (name, location, responsible person, inventory number)"
)
_action_route("annotate", "Set the device's name, location, responsible person, inventory number or note")
_action_route("retire", "Retire the device from operation")


@router.post(
    "/discovery/sweep",
    responses=json_responses(RunSummary, 401, 409, 503),
    summary="Sweep the LAN now from this replica and record what it found",
)
async def sweep_now(runtime: Admin, request: Request) -> MsgspecResponse:
    polling = runtime.lan_discovery
    if polling is None or not polling.sweeps:
        raise Rejected(
            409, "discovery_not_configured", "this collector sweeps no subnets (discovery.subnets)"
        )
    try:
        return MsgspecResponse(await polling.run_once(force=True))
    except SQLAlchemyError as exc:
        log.warning("LAN discovery run failed: %s", exc.__class__.__name__)
        raise Rejected(503, "store_unavailable", "the store could not record the run; try again") from None

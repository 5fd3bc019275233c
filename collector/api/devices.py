"""Admin read routes over the polled network devices (switches, printers, UPSes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from collector.agents.ingest import Rejected
from collector.api.common import Admin, MsgspecResponse, json_responses, read_store
from collector.sources.snmp import store as snmp_store
from collector.sources.snmp.supplies import days_until
from collector.sources.snmp.view import DeviceState
from collector.store import devices as store

router = APIRouter(tags=["devices"])


class PollErrorView(msgspec.Struct):
    kind: str
    """A stable name: ``timeout``, ``transport``, ``agent_error``, ``resolve``, ``config``, …"""
    message: str
    at: datetime | None


class DeviceSummary(msgspec.Struct, kw_only=True):
    id: int
    name: str
    """The configured name, else what the device calls itself, else its address."""
    hostname: str
    address: str
    kind: str
    location: str | None
    group: str | None
    first_seen_at: datetime
    last_success_at: datetime | None
    up: bool | None
    """Whether the last poll since this collector started got an answer; None: not polled yet."""
    last_error: PollErrorView | None
    """Why the last poll failed; None when it succeeded."""


class InterfaceTraffic(msgspec.Struct, kw_only=True):
    if_index: int | None
    name: str | None
    oper_status: str | None
    in_bps: float | None
    """Bits per second received between the last two polls (wraps and restarts absorbed)."""
    out_bps: float | None


class SupplyForecast(msgspec.Struct, kw_only=True):
    name: str
    """The supply as the metrics label it (its description, numbered where two read alike)."""
    colour: str | None
    percent: float | None
    percent_reason: str | None
    """Why there is no percent (``some_remaining``, ``unknown``, …)."""
    empty_at: datetime | None
    """When it runs out at the rate used since it was last replaced; None: no forecast yet."""
    days_until_empty: float | None


class DeviceDetail(DeviceSummary, kw_only=True):
    failed_parts: dict[str, str]
    """Parts of the last answered poll that failed (``"printer.supplies"`` → error kind)."""
    interfaces: list[InterfaceTraffic]
    """Traffic per interface, from this collector's last two polls (empty until it has polled)."""
    supplies: list[SupplyForecast]
    facts: dict[str, Any]


def _timestamp(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _summary_fields(row: store.DeviceRow, state: DeviceState | None) -> dict[str, Any]:
    last_success = row.last_success_at
    if state is not None and state.last_success is not None:
        seen = _timestamp(state.last_success)
        last_success = seen if last_success is None or (seen and seen > last_success) else last_success
    error = None
    if state is not None and state.error_kind is not None:
        error = PollErrorView(state.error_kind, state.error_message or "", _timestamp(state.last_attempt))
    return {
        "id": row.id,
        "name": row.name or row.hostname,
        "hostname": row.hostname,
        "address": row.address,
        "kind": row.kind,
        "location": row.location,
        "group": row.group,
        "first_seen_at": row.first_seen_at,
        "last_success_at": last_success,
        "up": None if state is None else state.up,
        "last_error": error,
    }


@router.get(
    "/devices",
    responses=json_responses(list[DeviceSummary], 401),
    summary="All polled network devices with their last poll's outcome",
)
async def list_devices(runtime: Admin) -> MsgspecResponse:
    rows = await read_store(runtime, store.list_devices)
    return MsgspecResponse(
        [DeviceSummary(**_summary_fields(row, runtime.devices.get(row.id))) for row in rows]
    )


@router.get(
    "/devices/{device_id}",
    responses=json_responses(DeviceDetail, 401, 404),
    summary="One polled device: its last poll's outcome and the facts it answered",
)
async def get_device(device_id: int, runtime: Admin) -> MsgspecResponse:
    row = await read_store(runtime, store.get_device, device_id)
    if row is None:
        raise Rejected(404, "not_found", f"no polled device with id {device_id}")
    state = runtime.devices.get(row.id)
    now = datetime.now(UTC)
    return MsgspecResponse(
        DeviceDetail(
            **_summary_fields(row, state),
            failed_parts=dict(state.part_errors) if state is not None else {},
            interfaces=[
                InterfaceTraffic(**{field: nic.get(field) for field in InterfaceTraffic.__struct_fields__})
                for nic in (state.interfaces if state is not None else ())
            ],
            supplies=[_supply_forecast(supply, now) for supply in (state.supplies if state else ())],
            facts=row.facts or {},
        )
    )


def _supply_forecast(supply: dict[str, Any], now: datetime) -> SupplyForecast:
    empty_at = _timestamp(supply.get("empty_at"))
    return SupplyForecast(
        name=supply["name"],
        colour=supply.get("colour"),
        percent=supply.get("percent"),
        percent_reason=supply.get("percent_reason"),
        empty_at=empty_at,
        days_until_empty=days_until(empty_at, now),
    )


@router.get(
    "/devices/{device_id}/supplies/history",
    responses=json_responses(list[snmp_store.SupplyHistory], 401, 404),
    summary="A printer's supply levels over time, and when each runs out",
)
async def get_supply_history(
    device_id: int, runtime: Admin, days: Annotated[int, Query(ge=1, le=400)] = 90
) -> MsgspecResponse:
    def read() -> list[snmp_store.SupplyHistory] | None:
        with runtime.sessions() as session:
            if store.get_device(session, device_id) is None:
                return None
            return snmp_store.supply_history(session, device_id, datetime.now(UTC) - timedelta(days=days))

    history = await run_in_threadpool(read)
    if history is None:
        raise Rejected(404, "not_found", f"no polled device with id {device_id}")
    return MsgspecResponse(history)

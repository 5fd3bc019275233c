"""Liveness and the Prometheus endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from collector.api.common import runtime_of

router = APIRouter(tags=["system"])


@router.get(
    "/healthz", response_class=PlainTextResponse, summary="200 when the collector can reach its store"
)
async def healthz(request: Request) -> PlainTextResponse:
    runtime = runtime_of(request)

    def ping() -> None:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as exc:
        return PlainTextResponse(f"store unreachable: {exc.__class__.__name__}\n", status_code=503)
    return PlainTextResponse("ok\n")


@router.get("/metrics", summary="Prometheus metrics, rendered from memory")
async def metrics(request: Request) -> Response:
    registry = runtime_of(request).registry
    return Response(await run_in_threadpool(generate_latest, registry), media_type=CONTENT_TYPE_LATEST)

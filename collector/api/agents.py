"""Routes the agents call: enrollment and report ingest."""

from __future__ import annotations

from fastapi import APIRouter, Request

from agent.schema.messages import EnrollRequest, EnrollResponse, IngestResponse
from agent.schema.report import Report
from collector.agents.ingest import Rejected, decode_report
from collector.api.common import MsgspecResponse, json_body, json_responses, runtime_of

router = APIRouter(tags=["agents"])


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it grows past ``limit`` (not after it was all buffered)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Rejected(413, "body_too_large", f"body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Rejected(413, "body_too_large", f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/enroll",
    status_code=201,
    openapi_extra=json_body(EnrollRequest),
    responses=json_responses(EnrollResponse, 400, 403),
    summary="Exchange the enrollment secret for a per-agent token",
)
async def enroll(request: Request) -> MsgspecResponse:
    ingest = runtime_of(request).ingest
    body = await _read_body(request, 64 * 1024)
    return MsgspecResponse(await ingest.enroll(body), status_code=201)


@router.post(
    "/reports",
    openapi_extra=json_body(Report),
    responses=json_responses(IngestResponse, 400, 401, 403, 413, 415, 422, 503),
    summary="Deliver one agent report (JSON, optionally gzip)",
)
async def post_report(request: Request) -> MsgspecResponse:
    ingest = runtime_of(request).ingest
    try:
        owner = await ingest.authenticate(request.headers.get("authorization"))
        body = await _read_body(request, ingest.limits.max_body_bytes)
        report = decode_report(body, request.headers.get("content-encoding"), ingest.limits)
        outcome = await ingest.submit(owner, report)
    except Rejected as error:
        ingest.reject(error)
        raise
    return MsgspecResponse(IngestResponse(status=outcome.status, need_inventory=outcome.need_inventory))

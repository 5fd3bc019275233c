"""What the routes share: msgspec responses, the admin credential, the runtime."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

import msgspec
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from agent.schema.messages import ErrorResponse
from collector.agents.ingest import Rejected
from collector.runtime import Runtime


class MsgspecResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


def error_response(status: int, reason: str, detail: str) -> MsgspecResponse:
    return MsgspecResponse(ErrorResponse(error=reason, detail=detail), status_code=status)


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


Body = TypeVar("Body")


async def decode_body(request: Request, kind: type[Body], empty: bytes | None = None) -> Body:
    """The request's JSON body as ``kind`` (``empty``: what an empty body stands for), or a 422
    ``invalid_body`` naming what is wrong."""
    try:
        return msgspec.json.decode(await request.body() or empty or b"", type=kind)
    except msgspec.DecodeError as exc:
        raise Rejected(422, "invalid_body", str(exc)) from None


Params = ParamSpec("Params")
Result = TypeVar("Result")


async def read_store(
    runtime: Runtime,
    query: Callable[Concatenate[Session, Params], Result],
    *args: Params.args,
    **kwargs: Params.kwargs,
) -> Result:
    """``query(session, *args)`` in a worker thread, in a session of its own (store reads block)."""

    def read() -> Result:
        with runtime.sessions() as session:
            return query(session, *args, **kwargs)

    return await run_in_threadpool(read)


_bearer = HTTPBearer(auto_error=False, description="The admin token from <data dir>/admin.token")


def require_admin(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Runtime:
    """Inventory and security posture are sensitive: every read needs the admin token."""
    runtime = runtime_of(request)
    if credentials is None:
        raise Rejected(401, "missing_token", "send the admin token as 'Authorization: Bearer <token>'")
    offered = hashlib.sha256(credentials.credentials.encode()).digest()
    if not hmac.compare_digest(offered, runtime.admin_token_sha256):
        raise Rejected(401, "bad_admin_token", "the admin token is wrong")
    return runtime


Admin = Annotated[Runtime, Depends(require_admin)]


OPENAPI_COMPONENTS: dict[str, Any] = {}
"""Schemas of the msgspec types the routes use, merged into the OpenAPI document by create_app."""


def schema_of(kind: Any) -> dict[str, Any]:
    """OpenAPI schema of a msgspec type, for routes that decode and encode with msgspec."""
    (schema,), components = msgspec.json.schema_components(
        (kind,), ref_template="#/components/schemas/{name}"
    )
    OPENAPI_COMPONENTS.update(components)
    return schema


def json_body(kind: Any) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON request body of a msgspec type."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema_of(kind)}}}}


def json_responses(kind: Any, *errors: int) -> dict[int | str, dict[str, Any]]:
    """``responses`` declaring a msgspec success type and the error statuses a route can answer."""
    responses: dict[int | str, dict[str, Any]] = {
        200: {"description": "OK", "content": {"application/json": {"schema": schema_of(kind)}}}
    }
    error_schema = schema_of(ErrorResponse)
    for status in errors:
        responses[status] = {
            "description": "Error",
            "content": {"application/json": {"schema": error_schema}},
        }
    return responses

"""The HTTP API: thin routes over ingest and the store functions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from collector import __version__
from collector.api.agents import router as agents_router
from collector.api.common import OPENAPI_COMPONENTS, error_response
from collector.api.devices import router as devices_router
from collector.api.inventory import router as inventory_router
from collector.api.system import router as system_router
from collector.ingest import Rejected
from collector.local_agent import local_agent_config, supervise_agent
from collector.runtime import Runtime
from collector.snmp_polling import SnmpPolling

log = logging.getLogger(__name__)


def make_server(runtime: Runtime) -> uvicorn.Server:
    """The HTTP server of a runtime: address, TLS and log level come from its config."""
    config = runtime.config
    host, port = config.host_port
    return uvicorn.Server(
        uvicorn.Config(
            create_app(runtime),
            host=host,
            port=port,
            log_level=config.log_level.lower(),
            access_log=False,
            ssl_certfile=config.tls.cert_file,
            ssl_keyfile=config.tls.key_file,
            log_config=None,  # logging is the process's business (dozor-collector sets it up)
        )
    )


def create_app(runtime: Runtime) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hosts = await asyncio.to_thread(runtime.reload_fleet)
        log.info("fleet view loaded: %d hosts", hosts)
        runtime.ingest.start()
        tasks = [asyncio.create_task(_resync_forever(runtime), name="dozor-fleet-resync")]
        if runtime.config.local_agent:
            tasks.append(
                asyncio.create_task(supervise_agent(local_agent_config(runtime)), name="dozor-agent")
            )
        polling = None
        if runtime.config.snmp.devices:
            polling = SnmpPolling(runtime.config.snmp, runtime.sessions, runtime.devices, runtime.metrics)
            polling.start()
        try:
            yield
        finally:
            if polling is not None:
                await polling.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runtime.ingest.stop()

    app = FastAPI(
        title="Dozor collector",
        version=__version__,
        summary="Inventory, health and security posture of the council's office PCs.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime

    @app.exception_handler(Rejected)
    async def rejected(_: Request, error: Rejected):  # type: ignore[no-untyped-def]
        return error_response(error.status, error.reason, error.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(_: Request, error: RequestValidationError):  # type: ignore[no-untyped-def]
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        return error_response(422, "invalid_parameters", problems)

    app.include_router(system_router)
    app.include_router(agents_router, prefix="/api/v1")
    app.include_router(inventory_router, prefix="/api/v1")
    app.include_router(devices_router, prefix="/api/v1")

    def openapi() -> dict[str, Any]:
        """FastAPI's document plus the msgspec schemas the routes declare by reference."""
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            document.setdefault("components", {}).setdefault("schemas", {}).update(OPENAPI_COMPONENTS)
        return app.openapi_schema or document

    app.openapi = openapi  # type: ignore[method-assign]
    return app


FULL_RESYNC_EVERY = 20
"""Every so many passes the whole view is rebuilt, so that hosts deleted in the store disappear."""


async def _resync_forever(runtime: Runtime) -> None:
    """Follow the store: pick up other replicas' reports cheaply (only hosts seen since the last
    pass, with a margin for clock skew between replicas), and rebuild everything now and then."""
    period = runtime.config.liveness.resync_seconds
    passes = 0
    while True:
        await asyncio.sleep(period)
        passes += 1
        since = None if passes % FULL_RESYNC_EVERY == 0 else datetime.now(UTC) - timedelta(seconds=3 * period)
        try:
            await asyncio.to_thread(runtime.reload_fleet, since)
        except Exception as exc:  # the store may be briefly unreachable; metrics keep the last view
            log.warning("fleet view refresh failed: %s", exc.__class__.__name__)

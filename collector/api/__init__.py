"""The HTTP API: thin routes over ingest, the sources' public functions and the store; the app's
lifespan starts and stops the runtime's services."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from collector import __version__
from collector.agents.ingest import Rejected
from collector.api.agents import router as agents_router
from collector.api.common import OPENAPI_COMPONENTS, error_response
from collector.api.configs import router as configs_router
from collector.api.devices import router as devices_router
from collector.api.downloads import router as downloads_router
from collector.api.inventory import router as inventory_router
from collector.api.lan import router as lan_router
from collector.api.system import router as system_router
from collector.runtime import Runtime

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
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

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
    app.include_router(downloads_router)
    app.include_router(agents_router, prefix="/api/v1")
    app.include_router(inventory_router, prefix="/api/v1")
    app.include_router(devices_router, prefix="/api/v1")
    app.include_router(configs_router, prefix="/api/v1")
    app.include_router(lan_router, prefix="/api/v1")

    def openapi() -> dict[str, Any]:
        """FastAPI's document plus the msgspec schemas the routes declare by reference."""
        if app.openapi_schema is None:
            document = FastAPI.openapi(app)
            document.setdefault("components", {}).setdefault("schemas", {}).update(OPENAPI_COMPONENTS)
        return app.openapi_schema or document

    app.openapi = openapi  # type: ignore[method-assign]
    return app

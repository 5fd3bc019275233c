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
from collector.api.configs import router as configs_router
from collector.api.devices import router as devices_router
from collector.api.inventory import router as inventory_router
from collector.api.lan import router as lan_router
from collector.api.system import router as system_router
from collector.digest import DigestSchedule
from collector.discovery_polling import DiscoveryPolling
from collector.ingest import Rejected
from collector.local_agent import local_agent_config, supervise_agent
from collector.runtime import Runtime
from collector.snmp_polling import SnmpPolling
from collector.ssh_polling import SshPolling

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
        digest = None
        if runtime.config.digest.enabled:
            digest = DigestSchedule(runtime.config.digest, runtime.sessions, runtime.offline_after)
            digest.start()
        polling = None
        if runtime.config.snmp.devices:
            polling = SnmpPolling(
                runtime.config.snmp,
                runtime.sessions,
                runtime.devices,
                runtime.metrics,
                poller_id=runtime.poller_id,
            )
            polling.start()
        ssh_polling = None
        if runtime.config.ssh.devices:
            ssh_polling = SshPolling(
                runtime.config.ssh, runtime.sessions, runtime.backups, runtime.poller_id, runtime.metrics
            )
            ssh_polling.start()
        app.state.ssh_polling = ssh_polling
        discovery = None
        if runtime.config.discovery.subnets or not runtime.config.discovery.auto_accept:
            discovery = DiscoveryPolling(
                runtime.config.discovery,
                runtime.sessions,
                runtime.discovery,
                runtime.poller_id,
                runtime.metrics,
                hold_every_seconds=runtime.config.liveness.resync_seconds,
            )
            discovery.start()
        app.state.discovery = discovery
        try:
            yield
        finally:
            if digest is not None:
                digest.stop()
            if polling is not None:
                await polling.stop()
            if ssh_polling is not None:
                await ssh_polling.stop()
            if discovery is not None:
                await discovery.stop()
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

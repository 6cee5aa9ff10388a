"""``/healthz``, ``/readyz`` and ``/metrics`` for every service.

HTTP services include :func:`health_router` in their app; consumer-only
services run :func:`serve_probes`, a small uvicorn server on the same loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from libs.common import metrics  # noqa: F401  (registers the shared series)

log = logging.getLogger(__name__)

#: A readiness check raises (or returns False) when its dependency is unreachable.
ReadinessCheck = Callable[[], Awaitable[bool | None]]
ChecksProvider = Callable[[], Mapping[str, ReadinessCheck]]


class HealthStatus(BaseModel):
    status: str
    checks: dict[str, str] = {}


async def run_checks(
    checks: Mapping[str, ReadinessCheck], per_check_s: float = 3.0
) -> HealthStatus:
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            ok = await asyncio.wait_for(check(), per_check_s)
            results[name] = "ok" if ok is not False else "failing"
        except Exception as exc:  # a readiness probe reports; it never raises
            results[name] = f"failing: {type(exc).__name__}"
    healthy = all(v == "ok" for v in results.values())
    return HealthStatus(status="ready" if healthy else "not ready", checks=results)


def health_router(checks: ChecksProvider) -> APIRouter:
    """``checks`` is called per request so the lifespan can fill it in later."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", response_model=HealthStatus, summary="Process is alive")
    async def read_healthz() -> HealthStatus:
        return HealthStatus(status="alive")

    @router.get(
        "/readyz",
        response_model=HealthStatus,
        summary="Dependencies reachable",
        responses={503: {"model": HealthStatus, "description": "A dependency is unreachable"}},
    )
    async def read_readyz(response: Response) -> HealthStatus:
        status = await run_checks(checks())
        if status.status != "ready":
            response.status_code = 503
        return status

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    async def read_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server inside our loop: the service, not uvicorn, owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def probe_app(checks: ChecksProvider) -> FastAPI:
    app = FastAPI(title="omnidesk probes", docs_url=None, redoc_url=None)
    app.include_router(health_router(checks))
    return app


async def serve_probes(
    checks: ChecksProvider, *, host: str, port: int, stop: asyncio.Event
) -> None:
    """Serve the probe app until ``stop`` is set. Port 0 disables it."""
    if port == 0:
        await stop.wait()
        return
    config = uvicorn.Config(
        probe_app(checks), host=host, port=port, log_level="warning", lifespan="off"
    )
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve())
    log.info("probe server on %s:%d", host, port)
    await stop.wait()
    server.should_exit = True
    await task

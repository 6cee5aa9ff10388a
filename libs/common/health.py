"""``/healthz``, ``/readyz`` and ``/metrics`` as a FastAPI router for HTTP services.

HTTP services include :func:`health_router` in their app. Consumer-only
services run :func:`libs.common.probes.serve_probes` instead, which answers
the same three paths without importing FastAPI or uvicorn.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from libs.common.probes import ChecksProvider, HealthStatus, ReadinessCheck, run_checks

__all__ = ["ChecksProvider", "HealthStatus", "ReadinessCheck", "health_router", "run_checks"]


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

"""FastAPI app factory: ``uvicorn --factory services.router.app:create_app``.

Building the app connects to nothing; the lifespan starts the runtime.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from libs.common.health import health_router
from services.router.api import (
    agents,
    assistant,
    attachments,
    audit,
    contacts,
    conversations,
    csat,
    errors,
    keys,
    metrics,
    queues,
)
from services.router.console.routes import mount_console
from services.router.runtime import RouterRuntime
from services.router.service.context import Clock, system_clock
from services.router.settings import RouterSettings

DESCRIPTION = (
    "Agent and operations API of the omnidesk router: agents and their status, queues and "
    "SLA policies, conversations (list, timeline, transfer, resolve, reopen, reply), CSAT "
    "and metrics. Authenticate with an API key in the `X-API-Key` header; roles are "
    "agent < supervisor < admin."
)


def create_app(
    settings: RouterSettings | None = None,
    *,
    clock: Clock = system_clock,
    run_consumer: bool = True,
    run_scheduler: bool = True,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = RouterRuntime(
            settings or RouterSettings(),
            clock=clock,
            run_consumer=run_consumer,
            run_scheduler=run_scheduler,
        )
        app.state.runtime = runtime
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    # /docs and /redoc load Swagger UI and ReDoc from the installed package, not a CDN.
    app = FastAPIOffline(
        title="omnidesk router", version="1.0", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.runtime = None
    app.include_router(health_router(lambda: _checks(app)))
    for module in (
        agents,
        queues,
        conversations,
        csat,
        metrics,
        assistant,
        keys,
        contacts,
        audit,
        attachments,
    ):
        app.include_router(module.router)
    errors.install_error_handlers(app)
    app.middleware("http")(audit.audit_middleware)
    mount_console(app)
    return app


async def _starting() -> bool:
    return False


def _checks(app: FastAPI):  # type: ignore[no-untyped-def]
    runtime = app.state.runtime
    if runtime is None:
        return {"starting": _starting}
    return runtime.readiness_checks()

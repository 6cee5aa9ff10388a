"""Builds phone_log from settings: ``uvicorn --factory services.phone_log.bootstrap:create_app``.

Building the app connects to nothing; the Kafka producer starts in the lifespan.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from libs.common.health import health_router
from libs.common.webhooks import (
    MalformedPayload,
    WebhookTimingMiddleware,
    document_400_not_422,
    fast_routes,
    install_error_handlers,
    reject,
)
from libs.common.webhooks.fastpath import TELEMETRY_OFF, install_fast_path
from libs.common.webhooks.producer import WebhookEventProducer
from libs.common.webhooks.readiness import integrations_check
from services.phone_log.calls import PayloadError
from services.phone_log.routes import webhook_router
from services.phone_log.settings import PhoneLogSettings
from services.phone_log.state import PhoneLogState, PhoneProducer, ProducerStarter

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

DESCRIPTION = """Phone-system call events to `support.interactions.v1`.

Every route answers 2xx only after Kafka acknowledged the event; 503 with
`Retry-After` while Kafka is unreachable; 400/401/404/413 with a JSON error.
"""


def create_app(
    settings: PhoneLogSettings | None = None, *, producer: PhoneProducer | None = None
) -> FastAPI:
    """``producer`` replaces the Kafka producer (unit tests pass a plain fake)."""
    settings = settings or PhoneLogSettings()
    runtime = PhoneLogState.from_settings(settings)
    app = FastAPI(
        title="omnidesk phone_log",
        version="1.0",
        description=DESCRIPTION,
        telemetry=TELEMETRY_OFF,  # type: ignore[arg-type]
        lifespan=_lifespan(runtime, producer),
    )
    app.state.phone_log = runtime
    runtime.checks["integrations"] = integrations_check(lambda: len(runtime.integrations))
    if producer is not None:
        runtime.attach(producer)
    install_error_handlers(app)
    app.add_exception_handler(PayloadError, _on_payload_error)
    app.include_router(health_router(runtime.readiness_checks))
    webhooks = webhook_router()
    app.include_router(webhooks)
    app.add_middleware(WebhookTimingMiddleware)  # times what FastAPI routes
    document_400_not_422(app)
    if settings.fast_path:  # last: in front of the middleware stack, which it builds
        install_fast_path(app, fast_routes([webhooks]))
    return app


def _lifespan(runtime: PhoneLogState, injected: PhoneProducer | None) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not runtime.integrations:
            log.warning(
                "phone_log has NO integrations configured: every webhook answers 404 and "
                "/readyz answers 503. Set PHONE_LOG_INTEGRATIONS or PHONE_LOG_INTEGRATIONS_FILE "
                "(PHONE_LOG_DEV_SAMPLES=true loads public dev samples, dev only)."
            )
        if injected is not None:  # attached at build time; nothing to connect
            try:
                yield
            finally:
                runtime.events.flush()
            return
        producer = _producer(runtime.settings)
        runtime.attach(producer)
        runtime.checks["kafka"] = producer.ready
        starter = ProducerStarter(producer)
        await starter.start()
        try:
            yield
        finally:
            runtime.events.flush()  # the events counted since the last summary
            await starter.stop()

    return lifespan


def _producer(settings: PhoneLogSettings) -> WebhookEventProducer:
    deadline = settings.ack_deadline_s
    return WebhookEventProducer(
        settings.kafka,
        client_id=f"{settings.service_name}-{socket.gethostname()}",
        linger_ms=settings.publish_linger_ms,
        # a tighter ack deadline is enforced by the producer's own timer (no second one)
        send_timeout_s=None if deadline is None else min(settings.kafka.send_timeout_s, deadline),
    )


async def _on_payload_error(request: Request, exc: Exception) -> JSONResponse:
    return reject(request, MalformedPayload(str(exc)))


def load_settings() -> PhoneLogSettings:
    settings = PhoneLogSettings()
    if settings.integrations or not settings.dev_samples:
        return settings
    log.warning(
        "no PHONE_LOG_INTEGRATIONS configured: using sample dev integrations "
        "(dev-twilio, dev-asterisk, dev-freeswitch, dev-cti) with well-known secrets; "
        "set PHONE_LOG_DEV_SAMPLES=false in production"
    )
    return settings.with_dev_samples()

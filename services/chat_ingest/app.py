"""The chat_ingest FastAPI app: ``create_app`` is the composition root.

Building the app connects to nothing; the Kafka producer starts in the
lifespan (unless a publisher is injected, as unit tests do with a fake).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from libs.common.health import ReadinessCheck, health_router
from libs.common.webhooks import (
    EventPublisher,
    Publisher,
    RecentlyAcked,
    WebhookTimingMiddleware,
    install_error_handlers,
)
from libs.common.webhooks.producer import WebhookEventProducer
from services.chat_ingest.ingest import ChatIngest
from services.chat_ingest.integrations import IntegrationRegistry
from services.chat_ingest.providers import (
    channeltalk,
    kakao,
    line,
    slack,
    telegram,
    twilio,
    webchat,
    whatsapp,
)
from services.chat_ingest.runtime import Runtime
from services.chat_ingest.settings import ChatIngestSettings

log = logging.getLogger(__name__)

PROVIDER_ROUTERS = (twilio, whatsapp, telegram, slack, line, channeltalk, kakao, webchat)


def create_app(
    settings: ChatIngestSettings | None = None, *, publisher: EventPublisher | None = None
) -> FastAPI:
    settings = settings or ChatIngestSettings()
    runtime = Runtime(settings=settings, registry=IntegrationRegistry(settings.all_integrations()))
    app = FastAPI(
        title="omnidesk chat_ingest",
        version="1.0.0",
        summary="Chat webhooks → support.interactions.v1, acknowledged after the Kafka ack.",
        lifespan=_lifespan(runtime, publisher),
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(WebhookTimingMiddleware)
    for module in PROVIDER_ROUTERS:
        app.include_router(module.router)
    app.include_router(health_router(lambda: _readiness(app)))
    return app


def _lifespan(runtime: Runtime, injected: EventPublisher | None):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = runtime.settings
        producer = None
        if injected is None:
            producer = WebhookEventProducer(settings.kafka, client_id=settings.service_name)
            await producer.start()
        runtime.ingest = ChatIngest(_publisher(settings, injected or producer))
        app.state.producer = producer
        log.info("chat_ingest ready with %d integrations", len(runtime.registry))
        try:
            yield
        finally:
            runtime.ingest = None
            if producer is not None:
                await producer.stop()

    return lifespan


def _publisher(settings: ChatIngestSettings, producer: EventPublisher | None) -> Publisher:
    assert producer is not None
    return Publisher(
        producer,
        topic=settings.kafka.topics.interactions,
        retry_after_s=settings.retry_after_s,
        deadline_s=settings.ack_deadline_s,
        max_in_flight=settings.max_in_flight,
        recently_acked=RecentlyAcked(settings.recent_ids),
    )


def _readiness(app: FastAPI) -> dict[str, ReadinessCheck]:
    producer: WebhookEventProducer | None = getattr(app.state, "producer", None)
    if producer is None:
        return {}
    return {"kafka": producer.ready}

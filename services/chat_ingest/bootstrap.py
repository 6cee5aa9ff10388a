"""The chat_ingest FastAPI app: ``create_app`` is the composition root.

Building the app connects to nothing; the Kafka producer starts in the
lifespan (unless a publisher is injected, as unit tests do with a fake).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import httpx
from aiokafka.errors import KafkaError
from fastapi import FastAPI

from libs.common.blobstore import BlobStore
from libs.common.events.base import utc_now
from libs.common.health import ReadinessCheck, health_router
from libs.common.kafka.admin import list_topics
from libs.common.webhooks import (
    EventPublisher,
    Publisher,
    Quarantine,
    RecentlyAcked,
    WebhookTimingMiddleware,
    document_400_not_422,
    fast_routes,
    install_error_handlers,
)
from libs.common.webhooks.fastpath import TELEMETRY_OFF, install_fast_path
from libs.common.webhooks.producer import WebhookEventProducer
from libs.common.webhooks.readiness import integrations_check
from libs.providers.integrations import DEV_SECRET, IntegrationRegistry
from services.chat_ingest.ingest import ChatIngest
from services.chat_ingest.media import MediaFetcher, MediaPolicy
from services.chat_ingest.routes import provider_router
from services.chat_ingest.settings import ChatIngestSettings
from services.chat_ingest.state import ChatIngestState

log = logging.getLogger(__name__)

MAX_CONNECT_BACKOFF_S = 30.0


def create_app(
    settings: ChatIngestSettings | None = None,
    *,
    publisher: EventPublisher | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """``clock`` is injectable so time windows (Slack's 300 s) are exact in tests."""
    settings = settings or ChatIngestSettings()
    runtime = ChatIngestState(
        settings=settings, registry=IntegrationRegistry(settings.served_integrations()), clock=clock
    )
    app = FastAPI(
        title="omnidesk chat_ingest",
        version="1.0.0",
        summary="Chat webhooks → support.interactions.v1, acknowledged after the Kafka ack.",
        telemetry=TELEMETRY_OFF,  # type: ignore[arg-type]
        lifespan=_lifespan(runtime, publisher),
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    webhooks = provider_router()
    app.include_router(webhooks)
    app.add_middleware(WebhookTimingMiddleware)  # times what FastAPI routes
    app.include_router(health_router(lambda: _readiness(app)))
    document_400_not_422(app)
    if settings.fast_path:  # last: in front of the middleware stack, which it builds
        install_fast_path(app, fast_routes([webhooks]))
    return app


def _lifespan(runtime: ChatIngestState, injected: EventPublisher | None):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _media(runtime), _connected(runtime, injected, app):
            yield

    return lifespan


@contextlib.asynccontextmanager
async def _media(runtime: ChatIngestState) -> AsyncIterator[None]:
    """The fetcher of provider file references, when a blob store is configured."""
    settings = runtime.settings
    if settings.blob_dir is None:
        yield
        return
    policy = MediaPolicy(
        max_bytes=settings.media_max_bytes, allowed_types=tuple(settings.media_types)
    )
    async with httpx.AsyncClient(timeout=policy.timeout_s, follow_redirects=False) as client:
        runtime.media = MediaFetcher(BlobStore(settings.blob_dir), client, policy)
        try:
            yield
        finally:
            runtime.media = None


@contextlib.asynccontextmanager
async def _connected(
    runtime: ChatIngestState, injected: EventPublisher | None, app: FastAPI
) -> AsyncIterator[None]:
    """The Kafka producer (or the injected fake) for the app's lifetime."""
    announce_integrations(runtime.registry)
    if injected is not None:  # unit tests: a fake, nothing to connect
        runtime.ingest = _ingest(runtime.settings, injected)
        try:
            yield
        finally:
            _stop_ingest(runtime)
        return
    settings = runtime.settings
    producer = WebhookEventProducer(
        settings.kafka,
        client_id=settings.service_name,
        linger_ms=settings.publish_linger_ms,
        # the producer's own timer enforces the ack deadline (the Publisher then adds none)
        send_timeout_s=min(settings.kafka.send_timeout_s, settings.ack_deadline_s),
    )
    app.state.producer = producer
    connecting = None
    if not await _try_connect(producer, runtime):
        connecting = asyncio.create_task(_connect_with_retry(producer, runtime))
    try:
        yield
    finally:
        _stop_ingest(runtime)
        if connecting is not None:
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
        await producer.stop()


async def _try_connect(producer: WebhookEventProducer, runtime: ChatIngestState) -> bool:
    """Start the producer; until it runs, webhooks answer 503 and /readyz fails."""
    try:
        await producer.start()
    except (KafkaError, OSError) as exc:
        log.warning("Kafka not reachable (%s): webhooks answer 503 until it is", type(exc).__name__)
        return False
    runtime.ingest = _ingest(runtime.settings, producer)
    log.info("connected to Kafka; accepting webhooks")
    return True


async def _connect_with_retry(producer: WebhookEventProducer, runtime: ChatIngestState) -> None:
    delay = 1.0
    while True:
        await asyncio.sleep(delay)
        if await _try_connect(producer, runtime):
            return
        delay = min(delay * 2, MAX_CONNECT_BACKOFF_S)


def _stop_ingest(runtime: ChatIngestState) -> None:
    """No more webhooks are accepted; the events counted since the last summary are logged."""
    if runtime.ingest is not None:
        runtime.ingest.events.flush()
    runtime.ingest = None


def _ingest(settings: ChatIngestSettings, producer: EventPublisher) -> ChatIngest:
    quarantine = Quarantine(
        producer,  # type: ignore[arg-type]  # EventProducer and the fakes also send raw bytes
        topic=settings.kafka.topics.deadletter,
        service=settings.service_name,
        retry_after_s=settings.retry_after_s,
    )
    return ChatIngest(
        _publisher(settings, producer), quarantine, log_each_event=settings.log_each_event
    )


def _publisher(settings: ChatIngestSettings, producer: EventPublisher) -> Publisher:
    return Publisher(
        producer,
        topic=settings.kafka.topics.interactions,
        retry_after_s=settings.retry_after_s,
        deadline_s=settings.ack_deadline_s,
        max_in_flight=settings.max_in_flight,
        recently_acked=RecentlyAcked(settings.recent_ids),
    )


def announce_integrations(registry: IntegrationRegistry) -> None:
    integrations = registry.all()
    if not integrations:
        log.warning(
            "chat_ingest has NO integrations configured: every webhook answers 404 and /readyz "
            "answers 503. Set CHAT_INGEST_INTEGRATIONS or CHAT_INGEST_INTEGRATIONS_FILE "
            "(CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY=true serves public dev ones, dev only)."
        )
        return
    if any(i.dev for i in integrations):
        log.warning(
            "serving DEVELOPMENT integrations id 'dev' for every provider with the PUBLIC "
            "secret %r. Never expose this (CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY=true).",
            DEV_SECRET,
        )
    log.info(
        "chat_ingest serving %d integrations: %s",
        len(integrations),
        ", ".join(f"{i.provider.value}/{i.id}" for i in integrations),
    )


def _readiness(app: FastAPI) -> dict[str, ReadinessCheck]:
    runtime: ChatIngestState = app.state.runtime
    checks = {"integrations": integrations_check(lambda: len(runtime.registry))}
    producer: WebhookEventProducer | None = getattr(app.state, "producer", None)
    if producer is not None:
        checks.update(kafka=producer.ready, topic=_topic_check(app))
    return checks


def _topic_check(app: FastAPI) -> ReadinessCheck:
    """Topics are created by an explicit admin step; without it every webhook would 503.
    Once seen the topic is remembered, so probes stay cheap."""
    kafka = app.state.runtime.settings.kafka

    async def topic_exists() -> bool:
        if not getattr(app.state, "topic_seen", False):
            app.state.topic_seen = kafka.topics.interactions in await list_topics(kafka)
        return app.state.topic_seen

    return topic_exists

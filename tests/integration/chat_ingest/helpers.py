"""Shared by chat_ingest integration tests: the app on the real broker, its integrations."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import httpx

from libs.common.events.base import utc_now
from libs.common.settings import KafkaSettings
from libs.providers.integrations import Integration, Provider
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.samples import SampleRequest
from services.chat_ingest.settings import ChatIngestSettings
from tests.helpers import chat_ingest

BASE_URL = "http://chat.test"
SECRETS = {provider: f"it-secret-{provider.value}-42" for provider in Provider}


def integrations() -> list[Integration]:
    return [
        Integration(
            id="it",
            provider=provider,
            secret=SECRETS[provider],
            routing={"queue": "vip", "language": "ko", "brand": "acme"},
        )
        for provider in Provider
    ]


def signed(provider: Provider, seq: int) -> SampleRequest:
    return chat_ingest.signed(provider, seq, "it", secrets=SECRETS)


@contextlib.asynccontextmanager
async def running_app(
    kafka: KafkaSettings, *, clock: Callable[[], datetime] = utc_now, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, with its real EventProducer started by the lifespan.

    ``clock``: the app's notion of now (signature windows are measured from it)."""
    settings = ChatIngestSettings(kafka=kafka, integrations=integrations(), **overrides)
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=60) as client:
            yield client

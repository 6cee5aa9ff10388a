"""The phone_log app on the real broker, and a plain consumer to read what it published."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from libs.common.settings import KafkaSettings
from services.phone_log.bootstrap import create_app
from tests.helpers.phone_log import BASE_URL, test_settings


@asynccontextmanager
async def app_on_broker(kafka: KafkaSettings, **overrides) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with the real EventProducer started in its lifespan."""
    app = create_app(test_settings(kafka=kafka, **overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client

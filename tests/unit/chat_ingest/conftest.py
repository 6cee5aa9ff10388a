"""A chat_ingest app with one integration per provider and a plain fake producer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.settings import ChatIngestSettings
from tests.helpers.chat_ingest import BASE_URL, FakeProducer, make_integrations


@pytest.fixture
def settings() -> ChatIngestSettings:
    return ChatIngestSettings(integrations=make_integrations(), recent_ids=1000)


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


@pytest.fixture
async def app(settings: ChatIngestSettings, producer: FakeProducer) -> AsyncIterator[FastAPI]:
    application = create_app(settings, publisher=producer)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http

"""A chat_ingest app with one integration per provider and a plain fake producer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from libs.common.cloudevents import CloudEvent
from libs.common.events import RoutingHints
from libs.common.kafka.producer import PublishError
from libs.providers.integrations import Integration, Provider
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.samples import SampleRequest, sample_request
from services.chat_ingest.settings import ChatIngestSettings

BASE_URL = "http://chat.test"
SECRETS = {provider: f"secret-{provider.value}-0123456789" for provider in Provider}


def make_integrations() -> list[Integration]:
    return [
        Integration(
            id="main",
            provider=provider,
            secret=SECRETS[provider],
            verify_token="verify-me" if provider is Provider.WHATSAPP else None,
            api_key="webchat-api-key" if provider is Provider.WEBCHAT else None,
            routing=RoutingHints(queue=f"{provider.value}-queue", language="ko", brand="acme"),
            agent_ids=frozenset({"U_AGENT", "777"}),
        )
        for provider in Provider
    ]


@dataclass
class FakeProducer:
    """Records what would go to Kafka; ``fail`` makes it behave like a dead broker."""

    fail: bool = False
    sent: list[tuple[str, CloudEvent, str]] = field(default_factory=list)
    raw: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = field(default_factory=list)

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> None:
        if self.fail:
            raise PublishError("broker unavailable (fake)")
        self.sent.append((topic, event, key))

    async def send(
        self, topic: str, value: bytes | None, *, key: str | bytes | None, headers: list
    ) -> None:
        if self.fail:
            raise PublishError("broker unavailable (fake)")
        self.raw.append((topic, value, headers))


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


def signed(provider: Provider, seq: int = 1, integration_id: str = "main") -> SampleRequest:
    return sample_request(
        provider,
        integration_id=integration_id,
        secret=SECRETS[provider],
        seq=seq,
        base_url=BASE_URL,
    )


async def send(client: httpx.AsyncClient, request: SampleRequest) -> httpx.Response:
    return await client.request(
        request.method, request.path, content=request.content, headers=request.headers
    )

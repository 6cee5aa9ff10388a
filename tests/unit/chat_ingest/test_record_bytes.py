"""The Kafka records and HTTP answers of every chat provider's sample webhooks, pinned.

The SHA-256 of each provider's records (key, headers, value) and answers, at a fixed
clock, as the code before the interaction's models were built without re-validation
(7116f5e) wrote them: the bytes on the topic and on the wire stay the same.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import httpx
import pytest

from libs.common.cloudevents import encode
from libs.providers.integrations import Provider
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.settings import ChatIngestSettings
from tests.helpers.chat_ingest import FakeProducer, make_integrations, send, signed

NOW = datetime(2026, 11, 30, 9, 0, 0, 123456, tzinfo=UTC)

#: Slack's samples answer 401 at this clock (outside its 300 s window): its answers pinned
PINNED: dict[Provider, str] = {
    Provider.TWILIO: "5da99ed03d80660dd78cdfd5f0d5f85e7ef33776fd5fb914d7ac0d04c9f635c4",
    Provider.WHATSAPP: "46b899cd550e2adae567c903d7a9e0ea96b2b950fbf5850f1a04c220e2cf1783",
    Provider.TELEGRAM: "7ca3ec576b20d8b6b36df5e7359155e1b0ee6aca29668d021d94cb2c9c09e7ca",
    Provider.SLACK: "391bf4b255b6287b4c7a7970ac6b1c912664a6d9f5f49ffedbe35679a0eb27b9",
    Provider.LINE: "b5327d3979963af0321c6555bbeec8e47383322d1851c02e859c3ed16c65df2b",
    Provider.CHANNELTALK: "fa9f123d0f6eca25a6a8cdc4926182ac9c5430d44b6e36fbe8ade85027bdd749",
    Provider.KAKAO: "ba39a4f8ae7a027dc6e57d9995a3dcfa4f73661d034afbd8154f915eb950ae4e",
    Provider.WEBCHAT: "486d256fc60d2d474b6ba9fb7a21ffe759cd933acb1f240aaea6cd9c310969fd",
}


async def records_and_answers(provider: Provider) -> bytes:
    producer = FakeProducer()
    settings = ChatIngestSettings(integrations=make_integrations())
    app = create_app(settings, publisher=producer, clock=lambda: NOW)
    digest = hashlib.sha256()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chat.test") as client:
            for seq in (1, 2):
                response = await send(client, signed(provider, seq=seq))
                digest.update(b"%d %s|" % (response.status_code, response.content))
    for topic, event, key in producer.sent:
        headers, value = encode(event)
        digest.update(f"{topic}|{key}|{headers}|".encode() + value)
    return digest.hexdigest().encode()


@pytest.mark.parametrize("provider", list(Provider), ids=lambda p: p.value)
async def test_records_and_answers_are_the_pinned_bytes(provider: Provider) -> None:
    assert (await records_and_answers(provider)).decode() == PINNED[provider]

"""Each provider end to end: signed webhook → app → real Kafka → CloudEvent on the topic."""

from __future__ import annotations

import asyncio

import pytest

from libs.common.cloudevents import decode
from libs.common.events import Interaction
from libs.providers.integrations import Provider
from tests.helpers.chat_ingest import send
from tests.helpers.kafka import header, read_topic
from tests.integration.chat_ingest.helpers import running_app, signed

pytestmark = pytest.mark.integration


async def test_every_provider_reaches_the_topic_as_a_cloudevent(kafka_topics):
    topic = kafka_topics.topics.interactions
    async with running_app(kafka_topics) as client:
        responses = {p: await send(client, signed(p, seq=100 + i)) for i, p in enumerate(Provider)}
    for provider, response in responses.items():
        assert response.status_code in (200, 202), (provider, response.text)

    records = await asyncio.wait_for(read_topic(kafka_topics, topic, len(Provider)), 60)
    assert len(records) == len(Provider)
    by_provider = {}
    for record in records:
        event = decode(record.headers, record.value)
        assert isinstance(event.data, Interaction)
        by_provider[event.data.provider] = (record, event)
    assert set(by_provider) == {p.value for p in Provider}
    for provider, (record, event) in by_provider.items():
        assert header(record, "ce_specversion") == "1.0"
        assert header(record, "ce_type") == "support.message.received"
        assert header(record, "ce_source") == f"omnidesk/chat_ingest/{provider}/it"
        assert header(record, "content-type") == "application/json"
        assert record.key.decode() == event.data.customer_key
        assert event.data.integration == "it"
        assert event.data.channel == "chat"
        assert event.data.routing_hints.queue == "vip"
        assert event.data.body.text
    acked_ids = {
        p.value: responses[p].json()["event_ids"][0]
        for p in Provider
        if p not in (Provider.TWILIO, Provider.KAKAO)  # TwiML / skill answers carry no ids
    }
    for provider, event_id in acked_ids.items():
        assert by_provider[provider][1].id == event_id


async def test_retried_webhook_keeps_its_event_id_without_the_cache(kafka_topics):
    """With the in-process cache off, a retry is published again under the same ce_id,
    which consumers dedupe on: correctness does not rest on the cache."""
    topic = kafka_topics.topics.interactions
    async with running_app(kafka_topics, recent_ids=0) as client:
        first = await send(client, signed(Provider.LINE, seq=5))
        second = await send(client, signed(Provider.LINE, seq=5))
    assert first.status_code == second.status_code == 200
    assert first.json()["event_ids"] == second.json()["event_ids"]
    records = await asyncio.wait_for(read_topic(kafka_topics, topic, 2), 60)
    assert {header(r, "ce_id") for r in records} == set(first.json()["event_ids"])


async def test_readyz_reports_kafka(kafka_topics):
    async with running_app(kafka_topics) as client:
        for _ in range(20):  # like a readiness probe: a slow broker answer is retried
            response = await client.get("/readyz")
            if response.status_code == 200:
                break
            await asyncio.sleep(0.5)
    assert response.status_code == 200
    assert response.json()["checks"] == {"integrations": "ok", "kafka": "ok", "topic": "ok"}


async def test_readyz_fails_when_the_topic_was_never_created(kafka_settings):
    missing = kafka_settings.model_copy(deep=True)
    missing.topics.interactions = "never-created.interactions"
    async with running_app(missing) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"integrations": "ok", "kafka": "ok", "topic": "failing"}


async def test_unreadable_authenticated_body_lands_on_the_dead_letter_topic(kafka_topics):
    import dataclasses

    from libs.common.events import DeadLetter
    from libs.common.webhooks import hmac_sha256_base64
    from tests.integration.chat_ingest.helpers import SECRETS

    body = b'{"events": "not a list"}'
    request = dataclasses.replace(
        signed(Provider.LINE, seq=1),
        content=body,
        headers={"X-Line-Signature": hmac_sha256_base64(SECRETS[Provider.LINE], body)},
    )
    async with running_app(kafka_topics) as client:
        response = await send(client, request)
    assert response.status_code == 400
    [record] = await asyncio.wait_for(
        read_topic(kafka_topics, kafka_topics.topics.deadletter, 1), 60
    )
    assert record.value == body
    letter = DeadLetter.from_headers(record.headers)
    assert letter.stage == "chat_ingest.line"
    assert letter.source == "chat_ingest:line/it"

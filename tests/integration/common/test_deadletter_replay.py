from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer

from libs.common.cloudevents import CloudEvent, decode, encode
from libs.common.events.base import utc_now
from libs.common.events.deadletter import DeadLetter
from libs.common.kafka.producer import EventProducer
from libs.common.kafka.replay import list_dead_letters, replay_dead_letters
from tools.testing.samples import outbound_chat

pytestmark = pytest.mark.integration


async def test_replay_sends_originals_back_once(kafka_topics):
    settings = kafka_topics
    body = outbound_chat()
    event = CloudEvent(id="ev-dead", source="tests", type=body.event_type(), data=body)
    headers, value = encode(event)
    routed = DeadLetter(
        stage="router.handle",
        error_type="OperationalError",
        error="db down",
        attempts=3,
        failed_at=utc_now(),
        original_topic=settings.topics.interactions,
        original_partition=0,
        original_offset=5,
    )
    quarantined = DeadLetter(
        stage="email_ingest.parse",
        error_type="ParseError",
        error="bad",
        attempts=1,
        failed_at=utc_now(),
        source="imap:s/INBOX/7",
        blob="f" * 64,
    )
    async with EventProducer(settings, client_id="t") as producer:
        await producer.send(
            settings.topics.deadletter, value, key=b"k", headers=headers + routed.to_headers()
        )
        await producer.send(
            settings.topics.deadletter, b"raw", key=None, headers=quarantined.to_headers()
        )
        views = await list_dead_letters(settings)
        first = await replay_dead_letters(settings, producer, group_id="replay-test")
        again = await replay_dead_letters(settings, producer, group_id="replay-test")

    assert sorted(v.letter.stage for v in views) == ["email_ingest.parse", "router.handle"]
    assert (first.replayed, first.skipped) == (1, 1)
    assert (again.replayed, again.skipped) == (0, 0)  # progress is remembered
    record = await _one(settings.bootstrap_servers, settings.topics.interactions)
    assert not any(k.startswith("dlq_") for k, _ in record.headers)
    assert decode(record.headers, record.value) == event


async def _one(bootstrap: str, topic: str):
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        return await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()

"""Every event model through the real broker, CloudEvents headers intact."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner

from libs.common.cloudevents import CloudEvent, decode
from libs.common.events import Interaction
from libs.common.ids import deterministic_id
from libs.common.kafka.producer import EventProducer
from tools.testing.samples import all_events, ce_type_of

pytestmark = pytest.mark.integration


async def test_every_event_model_round_trips_through_kafka(kafka_topics):
    settings = kafka_topics
    topic = settings.topics.routing
    sent: dict[str, CloudEvent] = {}
    async with EventProducer(settings, client_id="roundtrip") as producer:
        for index, body in enumerate(all_events()):
            event = CloudEvent(
                id=deterministic_id("test", index),
                source="omnidesk/tests",
                type=ce_type_of(body),
                data=body,
                subject=f"s-{index}",
            )
            key = body.customer_key if isinstance(body, Interaction) else "conv-1"
            await producer.publish(topic, event, key=key)
            sent[event.id] = event

    received = await _consume_all(settings, topic, len(sent))
    assert {e.id for e in received} == set(sent)
    for event in received:
        assert event == sent[event.id]


async def _consume_all(settings, topic: str, count: int) -> list[CloudEvent]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    out: list[CloudEvent] = []
    try:
        async with asyncio.timeout(30):
            while len(out) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        headers = dict(record.headers)
                        assert headers["ce_specversion"] == b"1.0"
                        assert headers["content-type"] == b"application/json"
                        out.append(decode(record.headers, record.value))
    finally:
        await consumer.stop()
    return out


async def test_keyed_records_land_where_kafkas_default_partitioner_puts_them(kafka_topics):
    """EventProducer's KeyPartitioner on a real multi-partition topic: the partition of
    every record is the one the default (Java-compatible) partitioner chooses."""
    settings = kafka_topics
    topic = settings.topics.interactions
    keys = [f"webchat:visitor-{n}".encode() for n in range(60)] + [b"+821012345678", b""]
    async with EventProducer(settings, client_id="partitions") as producer:
        placed = {
            key: (await producer.send(topic, b"{}", key=key, headers=[])).partition for key in keys
        }
    partitions = await _partitions_of(settings, topic)
    assert len(partitions) > 1
    default = DefaultPartitioner()
    assert placed == {key: default(key, partitions, partitions) for key in keys}


async def _partitions_of(settings, topic: str) -> list[int]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.bootstrap_servers)
    await consumer.start()
    try:
        return sorted(consumer.partitions_for_topic(topic) or ())
    finally:
        await consumer.stop()

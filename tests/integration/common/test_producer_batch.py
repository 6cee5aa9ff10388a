"""EventProducer.publish_many / send_many against the real broker.

The batch keeps ``publish``'s guarantee: it returns only once every record is
acknowledged, and a record the broker refuses (or a broker that is gone) raises
``PublishError`` naming the topic and the event ids that were not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from aiokafka.admin import NewTopic

from libs.common.cloudevents import CloudEvent, decode, encode
from libs.common.events import Interaction
from libs.common.ids import deterministic_id
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.kafka.partitioner import KeyPartitioner
from libs.common.kafka.producer import EventProducer, OutgoingRecord, PublishError
from libs.common.settings import KafkaSettings
from tests.helpers.kafka import read_topic
from tools.testing.kafka import private_local_broker
from tools.testing.samples import all_events

pytestmark = pytest.mark.integration


def _interaction_events(count: int) -> list[tuple[CloudEvent, str]]:
    sample = next(e for e in all_events() if isinstance(e, Interaction))
    events = []
    for i in range(count):
        conversation = f"conv-{i % 7}"
        data = sample.model_copy(update={"conversation_id": conversation})
        event = CloudEvent(
            id=deterministic_id("test.batch", str(i)),
            source="test",
            type=Interaction.ce_type,
            data=data,
            subject=conversation,
        )
        events.append((event, conversation))
    return events


async def _read_all(settings: KafkaSettings, topic: str, count: int) -> list[CloudEvent]:
    records = await asyncio.wait_for(read_topic(settings, topic, count), 20)
    # per partition in offset order; sort by partition then offset for comparison
    records.sort(key=lambda r: (r.partition, r.offset))
    return [decode(r.headers, r.value) for r in records]


async def test_every_record_of_a_batch_is_acknowledged_and_readable_in_key_order(kafka_topics):
    topic = kafka_topics.topics.routing
    events = _interaction_events(200)
    async with EventProducer(kafka_topics, client_id="t-batch") as producer:
        acked = await producer.publish_many(topic, events)

    assert len(acked) == len(events)
    assert all(meta.topic == topic and meta.offset >= 0 for meta in acked)
    read = await _read_all(kafka_topics, topic, len(events))
    assert sorted(e.id for e in read) == sorted(e.id for e, _ in events)
    # one conversation's events keep the order they were given in (one partition)
    for conversation in {key for _, key in events}:
        given = [e.id for e, key in events if key == conversation]
        assert [e.id for e in read if e.subject == conversation] == given


async def test_a_refused_record_raises_publish_error_naming_its_event_id(kafka_topics):
    """A topic that takes records of at most 20,000 bytes (a batch); one larger record among
    small ones (on another partition) is refused by the broker (MESSAGE_TOO_LARGE)."""
    topic = f"{kafka_topics.topics.routing}.small"
    await create_topics(
        kafka_topics,
        [NewTopic(topic, 3, 1, topic_configs={"max.message.bytes": "20000"})],
    )
    partitioner = KeyPartitioner()
    big_key = "big"
    big_partition = partitioner(big_key.encode(), [0, 1, 2], [0, 1, 2])
    small_keys = [
        key
        for key in (f"k{i}" for i in range(50))
        if partitioner(key.encode(), [0, 1, 2], [0, 1, 2]) != big_partition
    ][:5]
    events = _interaction_events(6)
    records = [
        OutgoingRecord(value, key, headers)
        for (event, _), key in zip(events, small_keys, strict=False)
        for headers, value in [encode(event)]
    ]
    big_headers, _ = encode(events[5][0])
    records.append(OutgoingRecord(b"x" * 50_000, big_key, big_headers))
    try:
        async with EventProducer(kafka_topics, client_id="t-batch-refused") as producer:
            with pytest.raises(PublishError) as raised:
                await producer.send_many(topic, records)
            # the producer goes on: a later batch of small records is acknowledged
            assert len(await producer.send_many(topic, records[:5])) == 5
    finally:
        await delete_topics(kafka_topics, [topic])

    message = str(raised.value)
    assert topic in message
    assert events[5][0].id in message
    assert "1 of 6 records" in message
    assert all(event.id not in message for event, _ in events[:5])


async def test_a_stopped_broker_raises_publish_error_within_the_deadline():
    with private_local_broker() as broker:
        settings = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, send_timeout_s=2)
        topic = "batch-outage"
        await create_topics(settings, [NewTopic(topic, 1, 1)])
        producer = EventProducer(settings, client_id="t-batch-outage")
        await producer.start()
        try:
            events = _interaction_events(20)
            assert len(await producer.publish_many(topic, events[:10])) == 10
            broker.stop()
            started = time.monotonic()
            with pytest.raises(PublishError) as raised:
                await producer.publish_many(topic, events[10:])
            waited = time.monotonic() - started
        finally:
            # aiokafka's stop waits for the undelivered batches, which a stopped broker
            # never takes: bounded here (the service is stopping anyway)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(producer.stop(), 3)

    assert waited < settings.send_timeout_s + 1.0
    message = str(raised.value)
    assert topic in message and "10 of 10 records" in message
    assert all(event.id in message for event, _ in events[10:])


async def test_an_unstarted_producer_refuses_a_batch(kafka_settings):
    producer = EventProducer(kafka_settings, client_id="t-batch-unstarted")
    with pytest.raises(PublishError, match="not started"):
        await producer.publish_many("any", _interaction_events(1))


async def test_records_beyond_one_batch_keep_their_order_and_offsets(kafka_topics):
    """``send_many`` builds its own batches per partition: more records than fit one
    batch go out in several, each record's metadata is its own offset, in the order
    given, on the partition Kafka's default partitioner picks for its key."""
    topic = kafka_topics.topics.routing
    events = _interaction_events(60)
    records = [
        OutgoingRecord(value, key, headers)
        for (event, key) in events
        for headers, value in [encode(event)]
    ]
    async with EventProducer(kafka_topics, client_id="t-batch-small", max_batch_size=4096) as p:
        acked = await p.send_many(topic, records)

    partitions = sorted(range(kafka_topics.topics.partitions))
    partitioner = KeyPartitioner()
    assert [meta.partition for meta in acked] == [
        partitioner(key.encode(), partitions, partitions) for _, key in events
    ]
    for partition in set(meta.partition for meta in acked):
        offsets = [meta.offset for meta in acked if meta.partition == partition]
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))
    read = await _read_all(kafka_topics, topic, len(events))
    by_id = {meta_id: meta for meta_id, meta in zip((e.id for e, _ in events), acked, strict=True)}
    assert len(read) == len(events)
    for conversation in {key for _, key in events}:
        given = [e.id for e, key in events if key == conversation]
        assert [e.id for e in read if e.subject == conversation] == given
        assert [by_id[i].offset for i in given] == sorted(by_id[i].offset for i in given)

"""ConsumerRunner's ``max_partition_fetch_bytes`` (the router fetches 256 KiB ahead per
partition, issue #16): a limit below one record batch still delivers every record —
the broker returns a first batch whatever its size — in order, once."""

from __future__ import annotations

import asyncio

import pytest

from libs.common.cloudevents import CloudEvent
from libs.common.ids import deterministic_id
from libs.common.kafka.consumer import ConsumerRunner, Delivery
from libs.common.kafka.producer import EventProducer
from tools.testing.samples import outbound_chat

pytestmark = pytest.mark.integration

COUNT = 60


async def test_a_small_fetch_limit_still_delivers_every_record_once(kafka_topics):
    settings = kafka_topics
    handled: list[str] = []
    done = asyncio.Event()

    async def handle(delivery: Delivery) -> None:
        assert delivery.event_id is not None
        handled.append(delivery.event_id)
        if len(handled) >= COUNT:
            done.set()

    async with EventProducer(settings, client_id="fetch-size-test") as producer:
        events = [
            CloudEvent(
                id=deterministic_id("fetch-size", n),
                source="tests",
                type=outbound_chat().event_type(),
                data=outbound_chat(),
            )
            for n in range(COUNT)
        ]
        # one key: one partition, and the producer batches them (several records a batch)
        await asyncio.gather(
            *(producer.publish(settings.topics.interactions, e, key="k") for e in events)
        )
        runner = ConsumerRunner(
            settings,
            topics=[settings.topics.interactions],
            group_id="fetch-size",
            stage="test.stage",
            handler=handle,
            producer=producer,
            max_partition_fetch_bytes=1024,  # below one record batch
        )
        task = asyncio.create_task(runner.run())
        try:
            async with asyncio.timeout(60):
                await done.wait()
        finally:
            runner.stop()
            await task
    assert handled == [e.id for e in events]

"""Raw aiokafka throughput on this machine: the ceiling every benchmark is compared to.

Produce: idempotent producer (acks=all), messages in flight concurrently, counted
when the broker acknowledged them. Consume: one consumer reading the same
records back. For 200-byte and 2 KB messages. And the project's own path:
``EventProducer.send_many`` (what the notifier's outcomes go through), one batch of
``POLL`` records at a time, each batch awaited before the next, as a consumer's poll
publishes them.

    python -m bench.kafka_ceiling [--messages 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.common import bootstrap_servers, write_result
from libs.common.kafka.producer import EventProducer, OutgoingRecord
from libs.common.settings import KafkaSettings

SIZES = {"200B": 200, "2KB": 2048}
POLL = 500  # records per send_many: a consumer poll's worth (max_batch)


async def _create_topic(bootstrap: str, partitions: int) -> str:
    topic = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    return topic


async def produce(bootstrap: str, topic: str, count: int, size: int) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    payload = b"x" * size
    window = 20_000  # bounded in-flight futures
    try:
        started = time.perf_counter()
        pending = []
        for n in range(count):
            pending.append(await producer.send(topic, payload, key=str(n % 64).encode()))
            if len(pending) >= window:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def produce_batches(bootstrap: str, topic: str, count: int, size: int) -> float:
    """``EventProducer.send_many``, ``POLL`` records a call, every call acknowledged
    before the next starts (the guarantee a consumer's poll needs)."""
    payload = b"x" * size
    async with EventProducer(
        KafkaSettings(bootstrap_servers=bootstrap), client_id="bench-ceiling"
    ) as producer:
        started = time.perf_counter()
        for first in range(0, count, POLL):
            records = [
                OutgoingRecord(payload, str(n % 64), [("ce_id", str(n).encode())])
                for n in range(first, min(first + POLL, count))
            ]
            await producer.send_many(topic, records)
        return count / (time.perf_counter() - started)


async def consume(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        seen = 0
        started = None
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if started is None and batch:
                started = time.perf_counter()
            seen += sum(len(records) for records in batch.values())
        return count / (time.perf_counter() - (started or time.perf_counter()))
    finally:
        await consumer.stop()


async def run(messages: int, partitions: int) -> dict:
    bootstrap = bootstrap_servers()
    figures: dict[str, dict] = {}
    for label, size in SIZES.items():
        count = messages if size <= 200 else max(1, messages // 4)
        topic = await _create_topic(bootstrap, partitions)
        produced = await produce(bootstrap, topic, count, size)
        consumed = await consume(bootstrap, topic, count)
        batched = await produce_batches(bootstrap, topic, count, size)
        figures[label] = {
            "messages": count,
            "produce_msgs_per_s": round(produced),
            "produce_mb_per_s": round(produced * size / 1e6, 2),
            "consume_msgs_per_s": round(consumed),
            "event_producer_send_many_msgs_per_s": round(batched),
        }
        print(
            f"{label}: produce {produced:,.0f} msg/s, consume {consumed:,.0f} msg/s, "
            f"EventProducer.send_many ({POLL} a call) {batched:,.0f} msg/s"
        )
    return {"partitions": partitions, "idempotent": True, "acks": "all", "results": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    write_result("kafka_ceiling", asyncio.run(run(args.messages, args.partitions)))


if __name__ == "__main__":
    main()

"""Reading a topic to its current end: for tools, the demo and test assertions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from libs.common.settings import KafkaSettings


async def drain(
    consumer: AIOKafkaConsumer, on_record: Callable[[ConsumerRecord], object], idle_s: float
) -> None:
    """Hand every record to ``on_record`` until nothing new arrives for ``idle_s``."""
    while True:
        batch = await consumer.getmany(timeout_ms=int(idle_s * 1000), max_records=500)
        if not batch:
            return
        for records in batch.values():
            for record in records:
                result = on_record(record)
                if asyncio.iscoroutine(result):
                    await result


async def read_all(
    settings: KafkaSettings, topic: str, idle_s: float = 2.0
) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the beginning, without a consumer group."""
    consumer = AIOKafkaConsumer(
        topic,
        **settings.client_options(),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        await drain(consumer, records.append, idle_s)
    finally:
        await consumer.stop()
    return sorted(records, key=lambda r: (r.timestamp, r.partition, r.offset))

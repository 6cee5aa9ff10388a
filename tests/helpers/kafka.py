"""Read what a test published: every record of a topic, so a duplicate would show."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from libs.common.settings import KafkaSettings


async def read_topic(
    kafka: KafkaSettings, topic: str, at_least: int, *, extra_polls: int = 1
) -> list[ConsumerRecord]:
    """Every record from the start of ``topic`` (all partitions): ``at_least`` of them,
    then ``extra_polls`` more polls, so records beyond the expected ones (duplicates) show."""
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.client_options(),
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        while len(records) < at_least:
            records.extend(_flatten(await consumer.getmany(timeout_ms=1000)))
        for _ in range(extra_polls):
            records.extend(_flatten(await consumer.getmany(timeout_ms=500)))
    finally:
        await consumer.stop()
    return records


def _flatten(batch: dict) -> list[ConsumerRecord]:
    return [record for records in batch.values() for record in records]


def header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode()
    return None

"""The phone_log app on the real broker, and a plain consumer to read what it published."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from libs.common.settings import KafkaSettings
from services.phone_log.bootstrap import create_app
from tests.unit.phone_log.apps import BASE_URL, test_settings


@asynccontextmanager
async def app_on_broker(kafka: KafkaSettings, **overrides) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with the real EventProducer started in its lifespan."""
    app = create_app(test_settings(kafka=kafka, **overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client


async def read_topic(kafka: KafkaSettings, topic: str, count: int) -> list[ConsumerRecord]:
    """Every record from the start of ``topic``: at least ``count``, plus any extra that
    arrives in one more poll (so duplicates would show)."""
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.client_options(),
        group_id=f"phone-it-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        while len(records) < count:
            records.extend(_flatten(await consumer.getmany(timeout_ms=1000)))
        records.extend(_flatten(await consumer.getmany(timeout_ms=1000)))
    finally:
        await consumer.stop()
    return records


def _flatten(batch: dict) -> list[ConsumerRecord]:
    return [record for records in batch.values() for record in records]


def header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return value.decode()
    return None

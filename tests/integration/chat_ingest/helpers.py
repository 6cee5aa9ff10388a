"""Shared by chat_ingest integration tests: app on the real broker, topic reader."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from libs.common.events.base import utc_now
from libs.common.settings import KafkaSettings
from libs.providers.integrations import Integration, Provider
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.samples import SampleRequest, sample_request
from services.chat_ingest.settings import ChatIngestSettings

BASE_URL = "http://chat.test"
SECRETS = {provider: f"it-secret-{provider.value}-42" for provider in Provider}


def integrations() -> list[Integration]:
    return [
        Integration(
            id="it",
            provider=provider,
            secret=SECRETS[provider],
            routing={"queue": "vip", "language": "ko", "brand": "acme"},
        )
        for provider in Provider
    ]


def signed(provider: Provider, seq: int) -> SampleRequest:
    return sample_request(
        provider, integration_id="it", secret=SECRETS[provider], seq=seq, base_url=BASE_URL
    )


@contextlib.asynccontextmanager
async def running_app(
    kafka: KafkaSettings, *, clock: Callable[[], datetime] = utc_now, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, with its real EventProducer started by the lifespan.

    ``clock``: the app's notion of now (signature windows are measured from it)."""
    settings = ChatIngestSettings(kafka=kafka, integrations=integrations(), **overrides)
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=60) as client:
            yield client


async def send(client: httpx.AsyncClient, request: SampleRequest) -> httpx.Response:
    return await client.request(
        request.method, request.path, content=request.content, headers=request.headers
    )


async def read_topic(kafka: KafkaSettings, topic: str, count: int) -> list[ConsumerRecord]:
    """Read ``count`` records from the start of ``topic`` (all partitions)."""
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.client_options(),
        group_id=f"it-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        while len(records) < count:
            batch = await consumer.getmany(timeout_ms=1000)
            for partition_records in batch.values():
                records.extend(partition_records)
            if not batch and len(records) >= count:
                break
    finally:
        await consumer.stop()
    return records


def header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers:
        if key == name:
            return value.decode()
    return None

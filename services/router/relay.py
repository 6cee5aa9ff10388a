"""Outbox relay: publish committed routing events to ``support.routing.v1``.

Rows are published in id order, keyed by conversation id, with the row's
deterministic event id as ``ce_id``; they are marked sent only after Kafka
acknowledged. A crash between the ack and the mark re-publishes the same
``ce_id`` (consumers dedupe on it); nothing committed is ever lost. On
PostgreSQL an advisory lock lets one replica relay at a time, keeping order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from sqlalchemy import text

from libs.common import metrics
from libs.common.cloudevents import CONTENT_TYPE, SPEC_VERSION, CloudEvent, Headers
from libs.common.events.registry import model_for
from libs.common.kafka.producer import EventProducer, PublishError
from services.router.store.models import OutboxRow
from services.router.store.outbox import mark_sent, unsent_rows
from services.router.store.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)
RELAY_LOCK_KEY = 7226458


def cloud_event(row: OutboxRow, source: str) -> CloudEvent:
    """The row as a CloudEvent (used by tools and tests; the relay sends the stored JSON)."""
    model = model_for(row.ce_type)
    return CloudEvent(
        id=row.event_id,
        source=source,
        type=row.ce_type,
        data=model.model_validate_json(row.payload),
        time=row.occurred_at,
        subject=row.conversation_id,
    )


def record_headers(row: OutboxRow, source: str) -> Headers:
    """CloudEvents binary-mode headers, exactly as ``cloudevents.encode`` writes them."""
    return [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", row.event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", row.ce_type.encode()),
        ("ce_time", row.occurred_at.isoformat().encode()),
        ("content-type", CONTENT_TYPE.encode()),
        ("ce_subject", row.conversation_id.encode()),
    ]


class OutboxRelay:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        producer: EventProducer,
        *,
        topic: str,
        source: str = "omnidesk/router",
        batch: int = 500,
        interval_s: float = 0.2,
    ) -> None:
        self._uow = uow
        self._producer = producer
        self._topic = topic
        self._source = source
        self._batch = batch
        self._interval = interval_s
        self.wake = asyncio.Event()

    def notify(self) -> None:
        self.wake.set()

    async def publish_pending(self) -> int:
        """One round: publish up to ``batch`` rows; returns how many were sent."""
        if self._uow.postgres:
            return await self._publish_postgres()
        # SQLite: read without the write lock, publish, then mark in a short write.
        async with self._uow.reader() as uow:
            rows = await unsent_rows(uow.session, limit=self._batch)
        if not rows:
            return 0
        await self._send_all(rows)
        async with self._uow() as uow:
            await mark_sent(uow.session, [r.id for r in rows], datetime.now(UTC))
            await uow.commit()
        return len(rows)

    async def _publish_postgres(self) -> int:
        async with self._uow() as uow:
            # One relaying replica at a time keeps the per-conversation order.
            got = await uow.session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": RELAY_LOCK_KEY}
            )
            if not got:
                return 0
            rows = await unsent_rows(uow.session, limit=self._batch)
            if not rows:
                return 0
            await self._send_all(rows)
            await mark_sent(uow.session, [r.id for r in rows], datetime.now(UTC))
            await uow.commit()
            return len(rows)

    async def _send_all(self, rows: list[OutboxRow]) -> None:
        await asyncio.gather(*(self._send(row) for row in rows))
        for row in rows:
            metrics.EVENTS_PUBLISHED.labels(self._topic, row.ce_type).inc()

    async def _send(self, row: OutboxRow) -> None:
        await self._producer.send(
            self._topic,
            row.payload.encode(),
            key=row.conversation_id,
            headers=record_headers(row, self._source),
        )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.publish_pending()
            except PublishError as exc:
                log.warning("outbox relay: Kafka did not ack (%r); retrying", exc)
                sent = 0
                await _sleep_or_stop(stop, 1.0)
            if sent == self._batch:
                continue  # more waiting
            self.wake.clear()
            await _wait_any(stop, self.wake, self._interval)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()

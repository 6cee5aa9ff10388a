"""Kafka entry point: interactions → the routing service, one transaction per batch.

The runner's per-record path (retries, dead letters) stays the fallback: a batch
that fails is rolled back as a whole and its records are handled one by one.
"""

from __future__ import annotations

import logging

from aiokafka import ConsumerRecord, TopicPartition

from libs.common.cloudevents import CloudEventError, decode
from libs.common.events.interaction import Interaction
from libs.common.kafka.consumer import ConsumerRunner, Delivery, PermanentError
from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings
from services.router.service.context import RouterContext
from services.router.service.interactions import Incoming, route_batch

log = logging.getLogger(__name__)
STAGE = "router.route"


def incoming_from(delivery: Delivery) -> Incoming:
    event = delivery.event
    if event is None or not isinstance(event.data, Interaction):
        raise PermanentError(f"not an interaction: {event.type if event else 'undecoded'}")
    return Incoming(event_id=event.id, interaction=event.data)


class InteractionHandler:
    """The per-record handler (also used by tests and the fallback path)."""

    def __init__(self, ctx: RouterContext) -> None:
        self.ctx = ctx

    async def __call__(self, delivery: Delivery) -> None:
        await route_batch(self.ctx, [incoming_from(delivery)])


class BatchingConsumerRunner(ConsumerRunner):
    """Routes a whole poll in one transaction; falls back to per-record handling."""

    def __init__(self, settings: KafkaSettings, ctx: RouterContext, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(settings, handler=InteractionHandler(ctx), stage=STAGE, **kwargs)
        self._ctx = ctx

    async def _process(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        if self._stop.is_set():
            return
        try:
            items = [_decode(record) for records in batch.values() for record in records]
            await route_batch(self._ctx, items)
        except Exception as exc:  # the per-record path retries and dead-letters
            log.warning("batch of %d failed (%r); routing one by one", _size(batch), exc)
            await super()._process(batch)
            return
        for tp, records in batch.items():
            self._done[tp] = records[-1].offset + 1


def _decode(record: ConsumerRecord) -> Incoming:
    try:
        return incoming_from(Delivery(record, decode(record.headers, record.value)))
    except CloudEventError as exc:
        raise PermanentError(str(exc)) from exc


def _size(batch: dict[TopicPartition, list[ConsumerRecord]]) -> int:
    return sum(len(r) for r in batch.values())


def build_consumer(
    settings: KafkaSettings,
    ctx: RouterContext,
    producer: EventProducer,
    *,
    group_id: str,
    max_batch: int,
) -> BatchingConsumerRunner:
    return BatchingConsumerRunner(
        settings,
        ctx,
        topics=[settings.topics.interactions],
        group_id=group_id,
        producer=producer,
        max_batch=max_batch,
        client_id="router",
    )

"""Publish interactions and read the routing topic, over the real broker; read the store."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from libs.common.cloudevents import CloudEvent, decode
from libs.common.events.interaction import Interaction
from libs.common.events.notification import (
    NotificationChannel,
    NotificationOutcome,
    NotificationStatus,
)
from libs.common.events.routing import InteractionRouted, RoutingEvent
from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings
from services.router.service.context import RouterContext
from services.router.store.models import Conversation, InteractionRecord

#: Upper bound for waiting on the broker; tests assert on content, never on timing.
WAIT_S = 90


@dataclass(frozen=True)
class Published:
    event_id: str
    interaction: Interaction


async def publish(settings: KafkaSettings, items: Sequence[Published]) -> None:
    async with EventProducer(settings, client_id="test-ingest") as producer:
        for item in items:
            event = CloudEvent(
                id=item.event_id,
                source="test/ingest",
                type=item.interaction.event_type(),
                data=item.interaction,
            )
            await producer.publish(
                settings.topics.interactions, event, key=item.interaction.customer_key
            )


def published(interaction: Interaction, event_id: str | None = None) -> Published:
    return Published(event_id or str(uuid.uuid4()), interaction)


class RoutingReader:
    """Reads ``support.routing.v1`` from the beginning, keeping every record."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self.records: list[CloudEvent] = []
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> RoutingReader:
        self._consumer = AIOKafkaConsumer(
            self._settings.topics.routing,
            **self._settings.client_options(),
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._consumer is not None
        await self._consumer.stop()

    async def wait_for(self, done: Callable[[list[CloudEvent]], bool]) -> list[CloudEvent]:
        assert self._consumer is not None
        async with asyncio.timeout(WAIT_S):
            while not done(self.records):
                batch = await self._consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    self.records.extend(decode(r.headers, r.value) for r in records)
        return self.records

    async def drain(self, quiet_polls: int = 3) -> list[CloudEvent]:
        """Read until a few polls bring nothing new."""
        assert self._consumer is not None
        quiet = 0
        while quiet < quiet_polls:
            batch = await self._consumer.getmany(timeout_ms=300)
            got = [decode(r.headers, r.value) for recs in batch.values() for r in recs]
            self.records.extend(got)
            quiet = 0 if got else quiet + 1
        return self.records


def unique(events: list[CloudEvent]) -> list[CloudEvent]:
    """Distinct by ce_id (the relay may re-publish an id after a crash; consumers dedupe)."""
    seen: dict[str, CloudEvent] = {}
    for event in events:
        seen.setdefault(event.id, event)
    return list(seen.values())


def of_type(events: list[CloudEvent], model: type[RoutingEvent]) -> list[RoutingEvent]:
    return [e.data for e in unique(events) if isinstance(e.data, model)]


def routed_ids(events: list[CloudEvent]) -> set[str]:
    return {e.interaction_id for e in of_type(events, InteractionRouted)}  # type: ignore[attr-defined]


def reply_outcome(
    reply_id: str,
    conversation_id: str,
    at,
    *,
    status: NotificationStatus = NotificationStatus.ACCEPTED,
    provider_message_id: str | None = None,
    reason: str | None = None,
    error_code: str | None = None,
) -> NotificationOutcome:
    """What the notifier publishes about a reply it sent (or could not send)."""
    return NotificationOutcome(
        routing_event_id=f"routing-{reply_id}",
        routing_event_type="support.reply.requested",
        conversation_id=conversation_id,
        channel=NotificationChannel.CHAT,
        recipient="customer",
        template="customer_reply",
        status=status,
        occurred_at=at,
        reply_id=reply_id,
        purpose="agent_reply",
        provider_message_id=provider_message_id,
        accepted_at=at
        if status in (NotificationStatus.ACCEPTED, NotificationStatus.SENT)
        else None,
        reason=reason,
        error_code=error_code,
    )


async def conversation_of(ctx: RouterContext, event_id: str) -> Conversation:
    """The conversation the interaction ``event_id`` was routed into."""
    async with ctx.uow.reader() as uow:
        record = await uow.session.get(InteractionRecord, event_id)
        return await uow.conversations.get(record.conversation_id)

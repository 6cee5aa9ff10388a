"""Kafka entry point: ``support.assistant.v1`` → the assistant flow, one transaction per batch.

Only the router writes routing state: the assistant's answers, handoffs and
resolutions arrive here. ``AssistantTurnRequested`` is not on this topic.
"""

from __future__ import annotations

from libs.common.events.assistant import AssistantEvent
from libs.common.kafka.consumer import ConsumerRunner, Delivery, PermanentError
from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings
from services.router.consumer import database_unavailable
from services.router.service.assistant_flow import AssistantIncoming, apply_assistant_events
from services.router.service.context import RouterContext

STAGE = "router.assistant"


def assistant_incoming(delivery: Delivery) -> AssistantIncoming:
    event = delivery.event
    if event is None or not isinstance(event.data, AssistantEvent):
        raise PermanentError(f"not an assistant event: {event.type if event else 'undecoded'}")
    return AssistantIncoming(event_id=event.id, event=event.data)


class AssistantEventHandler:
    """Per record (the runner's fallback when a batch fails)."""

    def __init__(self, ctx: RouterContext) -> None:
        self.ctx = ctx

    async def __call__(self, delivery: Delivery) -> None:
        await apply_assistant_events(self.ctx, [assistant_incoming(delivery)])


class AssistantBatchHandler:
    def __init__(self, ctx: RouterContext) -> None:
        self.ctx = ctx

    async def __call__(self, deliveries: list[Delivery]) -> None:
        await apply_assistant_events(self.ctx, [assistant_incoming(d) for d in deliveries])


def build_assistant_consumer(
    settings: KafkaSettings, ctx: RouterContext, producer: EventProducer, *, group_id: str
) -> ConsumerRunner:
    return ConsumerRunner(
        settings,
        handler=AssistantEventHandler(ctx),
        batch_handler=AssistantBatchHandler(ctx),
        is_outage=database_unavailable,
        stage=STAGE,
        topics=[settings.topics.assistant],
        group_id=group_id,
        producer=producer,
        client_id="router-assistant",
        sparse_topic=True,  # the assistant's few events: no batch to wait for
    )

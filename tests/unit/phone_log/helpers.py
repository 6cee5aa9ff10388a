"""Plain fakes and small builders for phone_log unit tests (no mocks)."""

from __future__ import annotations

from datetime import UTC, datetime

from libs.common.cloudevents import CloudEvent
from libs.common.events import Interaction, RoutingHints
from libs.common.kafka.producer import PublishError
from services.phone_log.calls import CallFacts, EventContext, build_event

RECEIVED_AT = datetime(2026, 11, 23, 1, 5, tzinfo=UTC)


def context(
    integration_id: str = "kr-main", region: str = "KR", own_numbers: frozenset[str] = frozenset()
) -> EventContext:
    return EventContext(
        integration_id=integration_id,
        region=region,
        received_at=RECEIVED_AT,
        routing=RoutingHints(queue="support-ko", language="ko"),
        own_numbers=own_numbers,
    )


def event_of(facts: CallFacts, integration_id: str = "kr-main", **options) -> CloudEvent:
    return build_event(facts, context(integration_id, **options))


def interaction_of(facts: CallFacts, **options) -> Interaction:
    data = event_of(facts, **options).data
    assert isinstance(data, Interaction)
    return data


class RecordingProducer:
    """Stands in for EventProducer: keeps what would have been published."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, CloudEvent, str]] = []
        self.raw: list[tuple[str, bytes | None, str | bytes | None, list]] = []

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> object:
        self.sent.append((topic, event, key))
        return None

    async def send(
        self, topic: str, value: bytes | None, *, key: str | bytes | None, headers: list
    ) -> object:
        self.raw.append((topic, value, key, headers))
        return None


class DownProducer:
    """A producer whose broker never acknowledges."""

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> object:
        raise PublishError("broker unreachable")

    async def send(
        self, topic: str, value: bytes | None, *, key: str | bytes | None, headers: list
    ) -> object:
        raise PublishError("broker unreachable")

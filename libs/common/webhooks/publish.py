"""Publish, then acknowledge: a webhook answers 2xx only after Kafka acked.

``Publisher.publish`` waits for the broker's ack (bounded by
``KafkaSettings.send_timeout_s`` and an optional tighter deadline for
providers that time out sooner) and turns any failure into
:class:`BusUnavailable` — a 503 with ``Retry-After``. Requests in flight are
bounded: past ``max_in_flight`` the service answers 503 at once instead of
queueing in memory.

``RecentlyAcked`` is only a fast path that skips re-publishing an id we
acknowledged a moment ago; correctness rests on deterministic event ids,
which make every downstream handler idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from functools import cache
from typing import Protocol

from libs.common.cloudevents import CloudEvent, use_json_writer
from libs.common.events import Interaction
from libs.common.kafka.producer import PublishError
from libs.common.model_json import json_writer
from libs.common.webhooks.errors import BusUnavailable

log = logging.getLogger(__name__)


class EventPublisher(Protocol):
    """What :class:`~libs.common.kafka.producer.EventProducer` offers (and unit-test fakes)."""

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> object: ...


class RecentlyAcked:
    """A bounded LRU set of event ids Kafka acknowledged recently (per process)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        if event_id not in self._ids:
            return False
        self._ids.move_to_end(event_id)  # type: ignore[arg-type]
        return True

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


@cache
def write_interactions_by_orjson() -> None:
    """Interactions encoded (``cloudevents.encode``) by ``libs.common.model_json``'s
    writer: the bytes pydantic-core writes, ~57 -> ~28 K instructions a web-chat
    interaction. Each :class:`Publisher` asks for it (once a process)."""
    writer = json_writer(Interaction)
    if writer is not None:
        use_json_writer(Interaction, writer)


class Publisher:
    """Publishes CloudEvents for a webhook service with bounded waiting."""

    def __init__(
        self,
        producer: EventPublisher,
        *,
        topic: str,
        retry_after_s: int = 5,
        deadline_s: float | None = None,
        max_in_flight: int = 10_000,
        recently_acked: RecentlyAcked | None = None,
    ) -> None:
        self._producer = producer
        self.topic = topic
        self._retry_after_s = retry_after_s
        bound = getattr(producer, "send_timeout_s", None)
        if deadline_s is not None and isinstance(bound, int | float) and bound <= deadline_s:
            # The producer already gives up at the deadline or sooner (WebhookEventProducer
            # built with it): a second timer per request cost ~7 µs of CPU (asyncio.timeout
            # under uvloop, measured with thread_time) and changed nothing.
            deadline_s = None
        self._deadline_s = deadline_s
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self.recently_acked = recently_acked if recently_acked is not None else RecentlyAcked()
        write_interactions_by_orjson()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def already_acked(self, event_id: str) -> bool:
        return event_id in self.recently_acked

    async def publish(self, event: CloudEvent, *, key: str, provider: str | None = None) -> bool:
        """Publish and wait for the ack. False if it was acked recently (not re-sent).

        Raises :class:`BusUnavailable` when Kafka does not acknowledge in time
        or too many requests already wait for it.
        """
        if event.id in self.recently_acked:
            return False
        if self._in_flight >= self._max_in_flight:
            raise self._unavailable("too many requests waiting for Kafka", provider)
        self._in_flight += 1
        try:
            await self._send(event, key)
        except PublishError as exc:
            log.warning(
                "publish failed: %s",
                type(exc.__cause__ or exc).__name__,
                extra={"event_id": event.id, "provider": provider},
            )
            raise self._unavailable("Kafka did not acknowledge the event", provider) from exc
        finally:
            self._in_flight -= 1
        self.recently_acked.add(event.id)
        return True

    async def _send(self, event: CloudEvent, key: str) -> None:
        if self._deadline_s is None:
            await self._producer.publish(self.topic, event, key=key)
            return
        try:
            async with asyncio.timeout(self._deadline_s):
                await self._producer.publish(self.topic, event, key=key)
        except TimeoutError as exc:
            raise PublishError(f"no ack within {self._deadline_s} s") from exc

    def _unavailable(self, detail: str, provider: str | None) -> BusUnavailable:
        return BusUnavailable(detail, retry_after_s=self._retry_after_s, provider=provider)

from __future__ import annotations

import asyncio
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime

import pytest

from libs.common.events import RoutingHints
from services.phone_log.calls import EventContext
from services.phone_log.state import ProducerStarter


class FlakyProducer:
    """Refuses to start ``failures`` times (broker not up yet), then starts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.started = asyncio.Event()
        self.stopped = False

    async def start(self) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError("broker not reachable")
        self.started.set()

    async def stop(self) -> None:
        self.stopped = True


async def test_starts_at_once_when_kafka_is_there():
    producer = FlakyProducer(failures=0)
    starter = ProducerStarter(producer)
    await starter.start()
    assert producer.started.is_set() and producer.attempts == 1
    await starter.stop()
    assert producer.stopped


async def test_keeps_trying_in_the_background_until_kafka_answers():
    producer = FlakyProducer(failures=3)
    starter = ProducerStarter(producer, first_backoff_s=0.001)
    await starter.start()  # returns at once: the app serves (503) meanwhile
    assert not producer.started.is_set()
    await asyncio.wait_for(producer.started.wait(), 30)
    assert producer.attempts == 4
    await starter.stop()


async def test_stop_while_still_trying_cancels_the_retries():
    producer = FlakyProducer(failures=10**6)
    starter = ProducerStarter(producer, first_backoff_s=0.001)
    await starter.start()
    await starter.stop()
    attempts = producer.attempts
    await asyncio.sleep(0.01)
    assert producer.attempts == attempts and producer.stopped


def test_a_lines_context_at_a_time_is_the_context_built_with_that_time():
    line = EventContext(
        "kr-main",
        "KR",
        datetime(2026, 1, 1, tzinfo=UTC),
        RoutingHints(queue="support-ko"),
        4,
        frozenset({"+82212345678"}),
    )
    at = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    context = line.at(at)
    expected = EventContext(
        "kr-main", "KR", at, RoutingHints(queue="support-ko"), 4, frozenset({"+82212345678"})
    )
    assert context == expected
    assert type(context) is EventContext
    assert context.routing is line.routing and context.own_numbers is line.own_numbers
    with pytest.raises(FrozenInstanceError):
        context.region = "DE"  # type: ignore[misc]

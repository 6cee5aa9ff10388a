"""The idle fetch mode on the real broker: the Fetch requests a ConsumerRunner sends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka.protocol.fetch import FetchRequest

from libs.common.kafka.consumer import ConsumerRunner, Delivery
from libs.common.kafka.fetch_mode import IDLE_FETCH, FetchLimits
from libs.common.kafka.producer import EventProducer
from tests.integration.common.test_consumer_runner import _publish, _runner

pytestmark = pytest.mark.integration

USUAL = FetchLimits(min_bytes=65_536, max_wait_ms=100)
USUAL_OPTIONS = {"fetch_min_bytes": USUAL.min_bytes, "fetch_max_wait_ms": USUAL.max_wait_ms}


async def _until(condition: Callable[[], bool], activity: asyncio.Event, what: str) -> None:
    """Until ``condition`` holds, checked whenever a fetch is sent or a record handled."""
    try:
        async with asyncio.timeout(30):
            while not condition():
                activity.clear()
                await activity.wait()
    except TimeoutError:
        raise AssertionError(f"no {what} within 30 s") from None


def _spy_fetches(runner: ConsumerRunner, activity: asyncio.Event) -> list[FetchLimits]:
    """The limits of every Fetch request the runner's consumer sends from now on."""
    client = runner._consumer._fetcher._client  # type: ignore[union-attr]
    send = client.send
    sent: list[FetchLimits] = []

    def spying_send(node_id, request, *args, **kwargs):
        if isinstance(request, FetchRequest):
            sent.append(FetchLimits(request._min_bytes, request._max_wait_ms))
            activity.set()
        return send(node_id, request, *args, **kwargs)

    client.send = spying_send
    return sent


def _runs(limits: list[FetchLimits]) -> list[FetchLimits]:
    """Consecutive equal limits as one."""
    return [x for i, x in enumerate(limits) if i == 0 or limits[i - 1] != x]


async def test_an_idle_consumer_fetches_on_the_first_byte_until_records_flow_again(kafka_topics):
    settings = kafka_topics
    handled: list[str] = []
    activity = asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        handled.append(delivery.event_id)
        activity.set()

    async with EventProducer(settings, client_id="t") as producer:
        runner = _runner(settings, producer, handler, "idle-fetch", **USUAL_OPTIONS)
        task = asyncio.create_task(runner.run())
        try:
            await asyncio.wait_for(runner.started.wait(), 30)
            sent = _spy_fetches(runner, activity)
            # Nothing to read: the first empty poll turns the fetches idle.
            await _until(lambda: IDLE_FETCH in sent, activity, "idle fetch")
            assert runner.fetch_mode is not None and runner.fetch_mode.current == IDLE_FETCH

            before = len(sent)
            ids = await _publish(producer, settings.topics.interactions, 5)
            await _until(lambda: len(handled) == 5, activity, "five records handled")
            # The poll that returned records restored the usual limits; the empty polls
            # after it made the fetches idle again.
            await _until(
                lambda: _runs(sent[before:])[-2:] == [USUAL, IDLE_FETCH],
                activity,
                "idle fetch again",
            )
        finally:
            runner.stop()
            await task
    assert handled == ids
    runs = _runs(sent)
    assert runs[runs.index(IDLE_FETCH) :] == [IDLE_FETCH, USUAL, IDLE_FETCH]


async def test_idle_fetch_off_keeps_the_usual_limits(kafka_topics):
    settings = kafka_topics

    activity = asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        raise AssertionError("nothing is published")

    async with EventProducer(settings, client_id="t") as producer:
        runner = _runner(
            settings, producer, handler, "idle-fetch-off", idle_fetch=False, **USUAL_OPTIONS
        )
        task = asyncio.create_task(runner.run())
        try:
            await asyncio.wait_for(runner.started.wait(), 30)
            sent = _spy_fetches(runner, activity)
            await _until(lambda: len(sent) >= 12, activity, "twelve fetches")
        finally:
            runner.stop()
            await task
    assert runner.fetch_mode is None
    assert set(sent) == {USUAL}

"""``read_ahead`` decodes the next poll at idle priority: in loop turns where the handler
(or any other task) is not ready to run, never between the slices of a handler busy on
the CPU; and a poll the loop awaits is decoded at once whatever else is ready."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from libs.common.kafka import consumer as consumer_module
from libs.common.kafka.consumer import READ_AHEAD_CHUNK, ConsumerRunner, Delivery
from libs.common.settings import KafkaSettings

TOPIC = "t.interactions"
BATCH = 4 * READ_AHEAD_CHUNK
POLLS = 4


class StandInConsumer:
    """What ``ConsumerRunner.run`` calls on aiokafka's consumer: ``POLLS`` polls."""

    def __init__(self, *_topics: str, **_options: object) -> None:
        tp = TopicPartition(TOPIC, 0)
        self._polls = [
            {
                tp: [
                    ConsumerRecord(TOPIC, 0, n * BATCH + i, 0, 0, None, b"{}", None, 0, 2, [])
                    for i in range(BATCH)
                ]
            }
            for n in range(POLLS)
        ]

    def subscribe(self, *_args: object, **_kwargs: object) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def commit(self, _offsets: object) -> None:
        return None

    async def getmany(self, **_limits: object) -> dict[TopicPartition, list[ConsumerRecord]]:
        if not self._polls:
            await asyncio.sleep(0.01)
            return {}
        return self._polls.pop(0)


class CountedRunner(ConsumerRunner):
    chunks = 0

    def _deliveries(self, records: list[ConsumerRecord]) -> list[Delivery]:
        type(self).chunks += 1
        return super()._deliveries(records)


async def _run(handler: Any, monkeypatch: Any) -> CountedRunner:
    monkeypatch.setattr(consumer_module, "AIOKafkaConsumer", StandInConsumer)
    CountedRunner.chunks = 0

    async def single(_delivery: Delivery) -> None:
        raise AssertionError("every poll goes to the batch handler")

    runner = CountedRunner(
        KafkaSettings(),
        topics=[TOPIC],
        group_id="g",
        stage="s",
        handler=single,
        batch_handler=handler,
        producer=None,  # type: ignore[arg-type]  # nothing is dead-lettered
        decode_events=False,
        max_batch=BATCH,
        idle_fetch=False,
        read_ahead=True,
        commit_interval_s=0.0,
    )
    handled: list[int] = []

    async def counted(deliveries: list[Delivery]) -> None:
        await handler(deliveries)
        handled.extend(d.record.offset for d in deliveries)
        if len(handled) == POLLS * BATCH:
            runner.stop()

    runner._batch_handler = counted
    await asyncio.wait_for(runner.run(), 10)
    assert handled == list(range(POLLS * BATCH))  # each record once, in order
    return runner


async def test_the_decode_waits_while_the_handler_is_busy_and_fills_its_waits(monkeypatch):
    busy_chunks: list[int] = []
    waiting_chunks: list[int] = []

    async def handler(_deliveries: list[Delivery]) -> None:
        before = CountedRunner.chunks
        for _ in range(20):  # routing: CPU slices with a yield between them
            await asyncio.sleep(0)
        busy_chunks.append(CountedRunner.chunks - before)
        before = CountedRunner.chunks
        await asyncio.sleep(0.02)  # a round trip: the loop has nothing else to do
        waiting_chunks.append(CountedRunner.chunks - before)

    await _run(handler, monkeypatch)
    assert busy_chunks == [0] * POLLS
    # the next poll decoded whole while the handler waited (the last has no next)
    assert waiting_chunks == [BATCH // READ_AHEAD_CHUNK] * (POLLS - 1) + [0]


async def test_a_poll_the_loop_awaits_is_decoded_though_others_are_ready(monkeypatch):
    """A handler that never waits on anything but ``sleep(0)`` leaves no idle turn: the
    poll read ahead is decoded when the loop awaits it, not never."""

    async def handler(_deliveries: list[Delivery]) -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    spinning = asyncio.Event()

    async def always_ready() -> None:  # another task ready in every turn
        while not spinning.is_set():  # noqa: ASYNC110 - the point: never waiting
            await asyncio.sleep(0)

    other = asyncio.create_task(always_ready())
    try:
        await _run(handler, monkeypatch)
    finally:
        spinning.set()
        await other
    # the first poll decoded whole when handled, the others read ahead a chunk at a time
    assert CountedRunner.chunks == 1 + (POLLS - 1) * BATCH // READ_AHEAD_CHUNK

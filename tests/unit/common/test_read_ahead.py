"""``read_ahead``: the next poll is taken before this one is handled and decoded a chunk
at a time only while the handler waits on another thread (``idle_work.awaiting``), never
between its CPU slices; each record is handled once, in order; a poll taken before a
revocation is dropped; a record that does not decode ahead is decoded when handled."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from libs.common.idle_work import awaiting
from libs.common.kafka import consumer as consumer_module
from libs.common.kafka.consumer import READ_AHEAD_CHUNK, ConsumerRunner, Delivery, _Ahead
from libs.common.settings import KafkaSettings

TOPIC = "t.interactions"
BATCH = 4 * READ_AHEAD_CHUNK
POLLS = 4
TP = TopicPartition(TOPIC, 0)


def _record(offset: int, value: bytes = b"{}") -> ConsumerRecord:
    return ConsumerRecord(TOPIC, 0, offset, 0, 0, None, value, None, 0, 2, [])


class StandInConsumer:
    """What ``ConsumerRunner.run`` calls on aiokafka's consumer: ``POLLS`` polls, all
    fetched already (``getmany`` without a wait returns the next)."""

    def __init__(self, *_topics: str, **_options: object) -> None:
        self.polls = [{TP: [_record(n * BATCH + i) for i in range(BATCH)]} for n in range(POLLS)]

    def subscribe(self, *_args: object, **_kwargs: object) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def commit(self, _offsets: object) -> None:
        return None

    async def getmany(self, **_limits: object) -> dict[TopicPartition, list[ConsumerRecord]]:
        if not self.polls:
            await asyncio.sleep(0.01)
            return {}
        return self.polls.pop(0)


class CountedRunner(ConsumerRunner):
    chunks = 0

    def _deliveries(self, records: list[ConsumerRecord]) -> list[Delivery]:
        type(self).chunks += 1
        return super()._deliveries(records)


async def _hop() -> None:
    """A round trip to another thread: the loop has nothing else to do meanwhile."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    loop.call_later(0.02, future.set_result, None)
    await awaiting(future)


def _runner(handler: Any, monkeypatch: Any, *, read_ahead: bool = True) -> CountedRunner:
    monkeypatch.setattr(consumer_module, "AIOKafkaConsumer", StandInConsumer)
    CountedRunner.chunks = 0

    async def single(_delivery: Delivery) -> None:
        raise AssertionError("every poll goes to the batch handler")

    return CountedRunner(
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
        read_ahead=read_ahead,
        commit_interval_s=0.0,
    )


async def _run(runner: CountedRunner, expected: int) -> list[int]:
    handled: list[int] = []
    handler = runner._batch_handler
    assert handler is not None

    async def counted(deliveries: list[Delivery]) -> None:
        await handler(deliveries)
        handled.extend(d.record.offset for d in deliveries)
        if len(handled) >= expected:
            runner.stop()

    runner._batch_handler = counted
    await asyncio.wait_for(runner.run(), 10)
    return handled


async def test_the_next_poll_is_decoded_in_the_handlers_waits_not_its_slices(monkeypatch):
    busy_chunks: list[int] = []
    waiting_chunks: list[int] = []

    async def handler(_deliveries: list[Delivery]) -> None:
        before = CountedRunner.chunks
        for _ in range(20):  # routing: CPU slices with a yield between them
            await asyncio.sleep(0)
        busy_chunks.append(CountedRunner.chunks - before)
        before = CountedRunner.chunks
        await _hop()
        waiting_chunks.append(CountedRunner.chunks - before)

    runner = _runner(handler, monkeypatch)
    assert await _run(runner, POLLS * BATCH) == list(range(POLLS * BATCH))  # once, in order
    assert busy_chunks == [0] * POLLS
    # the next poll decoded whole while the handler waited (the last has no next)
    assert waiting_chunks == [BATCH // READ_AHEAD_CHUNK] * (POLLS - 1) + [0]
    # the first poll decoded when handled, the others ahead: no record decoded twice
    assert CountedRunner.chunks == 1 + (POLLS - 1) * BATCH // READ_AHEAD_CHUNK


async def test_a_handler_that_never_waits_gets_its_polls_decoded_when_handled(monkeypatch):
    async def handler(_deliveries: list[Delivery]) -> None:
        for _ in range(5):
            await asyncio.sleep(0)

    runner = _runner(handler, monkeypatch)
    assert await _run(runner, POLLS * BATCH) == list(range(POLLS * BATCH))
    # nothing ahead ran: each poll read ahead is decoded whole at once (finish), chunks
    assert CountedRunner.chunks == 1 + (POLLS - 1) * BATCH // READ_AHEAD_CHUNK


async def test_without_read_ahead_each_poll_is_decoded_when_handled(monkeypatch):
    async def handler(_deliveries: list[Delivery]) -> None:
        await _hop()

    runner = _runner(handler, monkeypatch, read_ahead=False)
    assert await _run(runner, POLLS * BATCH) == list(range(POLLS * BATCH))
    assert CountedRunner.chunks == POLLS


async def test_a_poll_taken_before_a_revocation_is_dropped(monkeypatch):
    """The partitions' positions go back to their committed offsets on the next
    assignment, so in Kafka the dropped poll's records are fetched again; here the
    stand-in simply goes on with its next poll."""
    revoked_during: list[int] = []
    runner: CountedRunner

    async def handler(deliveries: list[Delivery]) -> None:
        if deliveries[0].record.offset == 0:  # the second poll is ahead now
            runner._revocations += 1  # what on_revoked counts (it then waits for the lock)
            revoked_during.append(0)
        await _hop()

    runner = _runner(handler, monkeypatch)
    handled = await _run(runner, (POLLS - 1) * BATCH)
    assert revoked_during == [0]
    # the second poll (taken before the revocation) was not handled
    assert handled == [*range(BATCH), *range(2 * BATCH, POLLS * BATCH)]


def test_a_record_that_does_not_decode_ahead_leaves_the_poll_to_its_handling():
    calls: list[int] = []

    def deliveries(records: list[ConsumerRecord]) -> list[Delivery]:
        calls.append(records[0].offset)
        if any(r.value == b"bad" for r in records):
            raise ValueError("not an event")
        return [Delivery(r, None) for r in records]

    records = [_record(i) for i in range(2 * READ_AHEAD_CHUNK)]
    records[READ_AHEAD_CHUNK + 3] = _record(READ_AHEAD_CHUNK + 3, b"bad")
    ahead = _Ahead({TP: records}, 0, deliveries)
    assert ahead.step() is True
    assert ahead.step() is False  # the second chunk failed: nothing more ahead
    assert ahead.finish() is None  # decoded again when handled, the error handled there
    assert calls == [0, READ_AHEAD_CHUNK]


def test_finish_decodes_what_is_left():
    def deliveries(records: list[ConsumerRecord]) -> list[Delivery]:
        return [Delivery(r, None) for r in records]

    records = [_record(i) for i in range(3 * READ_AHEAD_CHUNK + 1)]
    ahead = _Ahead({TP: records}, 0, deliveries)
    assert ahead.step() is True
    decoded = ahead.finish()
    assert decoded is not None
    assert [d.record.offset for d in decoded] == list(range(len(records)))


async def test_a_streams_partial_polls_are_not_read_ahead(monkeypatch):
    async def handler(_deliveries: list[Delivery]) -> None:
        await _hop()

    runner = _runner(handler, monkeypatch)
    runner._max_batch = BATCH + 1  # every poll partial: a stream keeping up
    assert await _run(runner, POLLS * BATCH) == list(range(POLLS * BATCH))
    assert CountedRunner.chunks == POLLS  # each decoded when handled, whole

"""ConsumerRunner on the real broker: retries, dead letters, commits."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer

from libs.common.cloudevents import CloudEvent
from libs.common.events.deadletter import DeadLetter
from libs.common.ids import deterministic_id
from libs.common.kafka.consumer import (
    ConsumerRunner,
    Delivery,
    DependencyUnavailable,
    RetryPolicy,
)
from libs.common.kafka.producer import EventProducer
from tools.testing.samples import outbound_chat

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=0.01)


def _event(n: int) -> CloudEvent:
    body = outbound_chat()
    return CloudEvent(
        id=deterministic_id("test", n), source="tests", type=body.event_type(), data=body
    )


async def _publish(producer: EventProducer, topic: str, count: int, key: str = "k") -> list[str]:
    ids = []
    for n in range(count):
        event = _event(n)
        await producer.publish(topic, event, key=key)
        ids.append(event.id)
    return ids


def _runner(settings, producer, handler, group="g", **kw) -> ConsumerRunner:
    return ConsumerRunner(
        settings,
        topics=[settings.topics.interactions],
        group_id=group,
        stage="test.stage",
        handler=handler,
        producer=producer,
        retry=FAST_RETRY,
        **kw,
    )


async def _run_until(runner: ConsumerRunner, done: asyncio.Event) -> None:
    task = asyncio.create_task(runner.run())
    try:
        async with asyncio.timeout(60):
            await done.wait()
    finally:
        runner.stop()
        await task


async def test_handler_failing_once_is_retried_then_succeeds(kafka_topics):
    settings = kafka_topics
    attempts: Counter[str] = Counter()
    handled: list[str] = []
    done = asyncio.Event()

    async def flaky(delivery: Delivery) -> None:
        attempts[delivery.event_id] += 1
        if attempts[delivery.event_id] == 1:
            raise ConnectionError("database blinked")
        handled.append(delivery.event_id)
        if len(handled) == 3:
            done.set()

    async with EventProducer(settings, client_id="t") as producer:
        ids = await _publish(producer, settings.topics.interactions, 3)
        await _run_until(_runner(settings, producer, flaky), done)
    assert handled == ids
    assert all(attempts[i] == 2 for i in ids)


async def test_always_failing_record_is_dead_lettered_and_the_next_is_processed(kafka_topics):
    settings = kafka_topics
    handled: list[str] = []
    done = asyncio.Event()
    async with EventProducer(settings, client_id="t") as producer:
        ids = await _publish(producer, settings.topics.interactions, 2)
        # A record that is not a CloudEvent at all: dead-lettered without retries.
        await producer.send(settings.topics.interactions, b"\xffnot json", key="k", headers=[])

        async def poisoned(delivery: Delivery) -> None:
            if delivery.event_id == ids[0]:
                raise ValueError(f"cannot route {delivery.event_id}")
            handled.append(delivery.event_id)
            done.set()

        await _run_until(_runner(settings, producer, poisoned), done)
        letters = await _read(settings, settings.topics.deadletter, 2)

    assert handled == [ids[1]]
    first, second = letters
    info = DeadLetter.from_headers(first.headers)
    assert info.stage == "test.stage"
    assert info.error_type == "ValueError" and ids[0] in info.error
    assert info.attempts == FAST_RETRY.max_attempts
    assert info.original_topic == settings.topics.interactions and info.original_offset == 0
    assert dict(first.headers)["ce_id"] == ids[0].encode()  # original headers kept
    assert first.value == (await _read(settings, settings.topics.interactions, 1))[0].value
    garbage = DeadLetter.from_headers(second.headers)
    assert garbage.error_type == "CloudEventError" and garbage.attempts == 1
    assert second.value == b"\xffnot json"


async def test_stop_mid_batch_then_restart_reprocesses_only_uncommitted(kafka_topics):
    settings = kafka_topics
    total, stop_after = 20, 7
    first_run: list[str] = []
    second_run: list[str] = []
    async with EventProducer(settings, client_id="t") as producer:
        ids = await _publish(producer, settings.topics.interactions, total)
        stopped = asyncio.Event()

        async def stop_midway(delivery: Delivery) -> None:
            first_run.append(delivery.event_id)
            if len(first_run) == stop_after:
                runner.stop()  # the rest of the fetched batch stays uncommitted
                stopped.set()

        runner = _runner(settings, producer, stop_midway, group="g-restart")
        await _run_until(runner, stopped)

        finished = asyncio.Event()

        async def collect(delivery: Delivery) -> None:
            second_run.append(delivery.event_id)
            if len(first_run) + len(second_run) >= total:
                finished.set()

        await _run_until(_runner(settings, producer, collect, group="g-restart"), finished)
    assert first_run == ids[:stop_after]
    assert second_run == ids[stop_after:]


async def _read(settings, topic: str, count: int):
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    out = []
    try:
        async with asyncio.timeout(30):
            while len(out) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    out.extend(records)
    finally:
        await consumer.stop()
    return sorted(out, key=lambda r: (r.partition, r.offset))[:count]


async def test_an_outage_is_waited_out_not_dead_lettered(kafka_topics):
    settings = kafka_topics
    outage_left = 6  # more failures than max_attempts: an ordinary error would dead-letter
    handled: list[str] = []
    done = asyncio.Event()

    async def needs_database(delivery: Delivery) -> None:
        nonlocal outage_left
        if outage_left:
            outage_left -= 1
            raise DependencyUnavailable("database refused the connection")
        handled.append(delivery.event_id)
        done.set()

    async with EventProducer(settings, client_id="t") as producer:
        ids = await _publish(producer, settings.topics.interactions, 1)
        await _run_until(_runner(settings, producer, needs_database), done)
        letters = await _read_all_now(settings, settings.topics.deadletter)
    assert handled == ids
    assert letters == []


async def test_batch_handler_takes_the_poll_and_falls_back_record_by_record(kafka_topics):
    settings = kafka_topics
    batches: list[list[str]] = []
    one_by_one: list[str] = []
    done = asyncio.Event()
    async with EventProducer(settings, client_id="t") as producer:
        ids = await _publish(producer, settings.topics.interactions, 5)

        async def whole_poll(deliveries: list[Delivery]) -> None:
            batch = [d.event_id for d in deliveries]
            batches.append(batch)
            if ids[2] in batch:
                raise ValueError("one record in this poll cannot be routed")

        async def single(delivery: Delivery) -> None:
            if delivery.event_id == ids[2]:
                raise ValueError("still cannot be routed")
            one_by_one.append(delivery.event_id)
            if len(one_by_one) == 4:
                done.set()

        runner = _runner(settings, producer, single, batch_handler=whole_poll)
        await _run_until(runner, done)
        letters = await _read(settings, settings.topics.deadletter, 1)
    assert batches and ids[2] in batches[0]
    assert one_by_one == [i for i in ids if i != ids[2]]
    assert dict(letters[0].headers)["ce_id"] == ids[2].encode()


async def _read_all_now(settings, topic: str):
    from libs.common.kafka.reading import read_all

    return await read_all(settings, topic, idle_s=1.0)


async def _publish_ignored(producer: EventProducer, topic: str, count: int) -> None:
    """Records of a type the runner ignores, with a body no model reads: never decoded."""
    for n in range(count):
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", f"ignored-{n}".encode()),
            ("ce_source", b"tests"),
            ("ce_type", b"support.interaction.routed"),
        ]
        await producer.send(topic, b"not json", key=b"k", headers=headers)


class _Handled:
    """What a runner's handler was given; ``done`` once it has every expected id."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.expected: list[str] = []
        self.done = asyncio.Event()

    def expect(self, ids: list[str]) -> None:
        self.ids.clear()
        self.done.clear()
        self.expected = ids

    async def single(self, delivery: Delivery) -> None:
        self.ids.append(delivery.event_id)
        if len(self.ids) == len(self.expected):
            self.done.set()

    async def whole_poll(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            await self.single(delivery)

    async def resume_after(
        self, settings, producer: EventProducer, topic: str, *, group: str, **options
    ) -> None:  # type: ignore[no-untyped-def]
        """Run until what was published so far is handled, then restart the group: a
        restart must see only what comes after (everything before was committed)."""
        await _run_until(
            _runner(settings, producer, self.single, group=group, **options), self.done
        )
        self.expect([_event(99).id])
        await producer.publish(topic, _event(99), key="k")
        await _run_until(
            _runner(settings, producer, self.single, group=group, **options), self.done
        )


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "record_by_record"])
async def test_ignored_types_are_committed_without_decoding(kafka_topics, batch):
    settings = kafka_topics
    topic = settings.topics.interactions
    seen = _Handled()

    options = {"ignore_types": frozenset({"support.interaction.routed"})}
    if batch:
        options["batch_handler"] = seen.whole_poll
    async with EventProducer(settings, client_id="t") as producer:
        await _publish_ignored(producer, topic, 3)
        seen.expect(await _publish(producer, topic, 2))
        await _publish_ignored(producer, topic, 3)
        await seen.resume_after(settings, producer, topic, group="g-ignore", **options)
        letters = await _read_all_now(settings, settings.topics.deadletter)
    assert seen.ids == seen.expected
    assert letters == []


SKIP = ("ce_aboutreply", b"false")


async def _publish_marked(producer: EventProducer, topic: str, value: bytes, n: int) -> None:
    """A record whose producer marked it with ``value`` in the skip header, unreadable body."""
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", f"marked-{value.decode()}-{n}".encode()),
        ("ce_source", b"tests"),
        ("ce_type", b"support.notification.recorded"),
        (SKIP[0], value),
    ]
    await producer.send(topic, b"not json", key=b"k", headers=headers)


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "record_by_record"])
async def test_records_marked_with_the_skip_header_are_committed_without_decoding(
    kafka_topics, batch
):
    settings = kafka_topics
    topic = settings.topics.interactions
    seen = _Handled()

    options = {"skip_header": SKIP}
    if batch:
        options["batch_handler"] = seen.whole_poll
    group = f"g-skip-{batch}"
    async with EventProducer(settings, client_id="t") as producer:
        await _publish_marked(producer, topic, b"false", 0)
        await _publish_marked(producer, topic, b"true", 1)  # another value: decoded
        seen.expect(await _publish(producer, topic, 2))
        await _publish_marked(producer, topic, b"false", 2)
        await seen.resume_after(settings, producer, topic, group=group, **options)
        letters = await _read_all_now(settings, settings.topics.deadletter)
    assert seen.ids == seen.expected
    # the bad record marked otherwise was read, and dead-lettered; the skipped ones never
    assert [dict(letter.headers)["ce_id"] for letter in letters] == [b"marked-true-1"]


async def test_between_polls_runs_after_each_poll_is_handled_never_during_one(kafka_topics):
    settings = kafka_topics
    handling = False
    handled: list[str] = []
    calls: list[tuple[bool, int]] = []  # (a poll was being handled, records handled so far)
    done = asyncio.Event()
    async with EventProducer(settings, client_id="t") as producer:
        ids = await _publish(producer, settings.topics.interactions, 6)

        async def whole_poll(deliveries: list[Delivery]) -> None:
            nonlocal handling
            handling = True
            await asyncio.sleep(0.01)  # the poll's awaits: others run meanwhile
            handled.extend(d.event_id for d in deliveries)
            handling = False

        def between_polls() -> None:
            calls.append((handling, len(handled)))
            if len(handled) == len(ids):
                done.set()

        runner = _runner(
            settings,
            producer,
            _never_per_record,
            batch_handler=whole_poll,
            max_batch=2,
            between_polls=between_polls,
        )
        await _run_until(runner, done)
    assert handled == ids
    assert not any(during for during, _ in calls)
    # after each poll of 2 (and after any empty poll) at least once
    assert {count for _, count in calls} >= {2, 4, 6}


async def _never_per_record(delivery: Delivery) -> None:
    raise AssertionError("the whole poll is handled by the batch handler")


async def test_a_failing_between_polls_hook_is_logged_and_consuming_goes_on(kafka_topics, caplog):
    settings = kafka_topics
    handled: list[str] = []
    done = asyncio.Event()
    async with EventProducer(settings, client_id="t") as producer:
        ids = await _publish(producer, settings.topics.interactions, 4)

        async def whole_poll(deliveries: list[Delivery]) -> None:
            handled.extend(d.event_id for d in deliveries)
            if len(handled) == len(ids):
                done.set()

        def broken() -> None:
            raise RuntimeError("upkeep broke")

        runner = _runner(
            settings,
            producer,
            _never_per_record,
            batch_handler=whole_poll,
            max_batch=2,
            between_polls=broken,
        )
        await _run_until(runner, done)
    assert handled == ids
    assert "between-polls hook failed" in caplog.text

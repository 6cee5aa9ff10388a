"""ConsumerRunner's offset commits on the real broker: a poll's commit runs while the
next poll is handled, and still lands before a restart, a revocation or a stop."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from libs.common.kafka.consumer import ConsumerRunner, Delivery, RetryPolicy
from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings
from tests.integration.common.test_consumer_runner import _event

pytestmark = pytest.mark.integration

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff_s=0.01)


class HeldCommits(ConsumerRunner):
    """The runner under test, whose per-poll commits can be held at a gate the test
    opens, with a log of when they and revocations begin and end."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.hold = False
        self.gate = asyncio.Event()
        self.held = asyncio.Event()
        self.revoking = asyncio.Event()
        self.log: list[str] = []

    async def _commit(self, only: set[TopicPartition] | None = None) -> None:
        if only is not None or not self.hold or not self._done:
            await super()._commit(only)
            return
        self.log.append("poll commit held")
        self.held.set()
        await self.gate.wait()
        await super()._commit(only)
        self.log.append("poll commit done")

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        if not revoked:  # the first join revokes nothing
            await super().on_revoked(revoked)
            return
        self.log.append("revoke began")
        self.revoking.set()
        await super().on_revoked(revoked)
        self.log.append("revoke ended")


def _options(settings: KafkaSettings, producer: EventProducer, group: str) -> dict:
    return {
        "topics": [settings.topics.interactions],
        "group_id": group,
        "stage": "test.stage",
        "producer": producer,
        "retry": FAST_RETRY,
        "heartbeat_interval_ms": 300,  # a joining member is noticed quickly
    }


async def _publish(producer: EventProducer, topic: str, numbers: range) -> list[str]:
    """Events keyed over many keys, so every partition gets some."""
    ids = []
    for n in numbers:
        event = _event(n)
        await producer.publish(topic, event, key=f"customer-{n}")
        ids.append(event.id)
    return ids


async def _committed(settings: KafkaSettings, group: str) -> int:
    """How many records of the (fresh) interactions topic the group has committed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(o.offset for tp, o in offsets.items() if tp.topic == settings.topics.interactions)


async def _wait(event: asyncio.Event, seconds: float = 60) -> None:
    async with asyncio.timeout(seconds):
        await event.wait()


async def test_commits_of_several_polls_land_and_a_restart_resumes_after_them(kafka_topics):
    settings = kafka_topics
    topic, group, total = settings.topics.interactions, "g-commits-land", 25
    handled: list[str] = []
    polls: list[int] = []
    done = asyncio.Event()

    async def single(delivery: Delivery) -> None:
        handled.append(delivery.event_id)
        if len(handled) == len(ids):
            done.set()

    async def whole_poll(deliveries: list[Delivery]) -> None:
        polls.append(len(deliveries))
        for delivery in deliveries:
            await single(delivery)

    async with EventProducer(settings, client_id="t") as producer:
        ids = await _publish(producer, topic, range(total))
        options = _options(settings, producer, group)
        # Four records a poll: several polls, each commit running while the next is handled.
        runner = ConsumerRunner(
            settings, handler=single, batch_handler=whole_poll, max_batch=4, **options
        )
        task = asyncio.create_task(runner.run())
        await _wait(done)
        runner.stop()
        await task
        assert len(polls) > 1
        assert await _committed(settings, group) == total

        handled.clear()
        done.clear()
        ids = await _publish(producer, topic, range(total, total + 1))
        again = ConsumerRunner(settings, handler=single, batch_handler=whole_poll, **options)
        task = asyncio.create_task(again.run())
        await _wait(done)
        again.stop()
        await task
    assert handled == ids  # resumed after the last handled record: nothing twice


async def test_stop_waits_for_the_commit_in_flight(kafka_topics):
    settings = kafka_topics
    topic, group, total = settings.topics.interactions, "g-commit-stop", 10
    handled: list[str] = []

    async def single(delivery: Delivery) -> None:
        handled.append(delivery.event_id)
        if len(handled) == total:
            runner.hold = True  # this poll's commit is held until the gate opens

    async with EventProducer(settings, client_id="t") as producer:
        await _publish(producer, topic, range(total))
        runner = HeldCommits(settings, handler=single, **_options(settings, producer, group))
        task = asyncio.create_task(runner.run())
        await _wait(runner.held)
        runner.stop()
        await asyncio.sleep(0.5)
        assert not task.done()  # run() is waiting for the commit, not returning without it
        assert await _committed(settings, group) < total
        runner.gate.set()
        async with asyncio.timeout(30):
            await task
    assert runner.log == ["poll commit held", "poll commit done"]
    assert await _committed(settings, group) == total


async def test_a_rebalance_during_a_commit_waits_for_it_and_loses_nothing(kafka_topics):
    settings = kafka_topics
    topic, group, first, more = settings.topics.interactions, "g-commit-rebalance", 30, 30
    by_a: list[str] = []
    by_b: list[str] = []
    want: set[str] = set()  # filled once every record is published
    all_handled = asyncio.Event()

    def seen() -> None:
        if want and want <= set(by_a) | set(by_b):
            all_handled.set()

    async def handle_a(delivery: Delivery) -> None:
        by_a.append(delivery.event_id)
        if len(by_a) == first:
            a.hold = True  # the commit of the poll that finished the first records is held
        seen()

    async def handle_b(delivery: Delivery) -> None:
        by_b.append(delivery.event_id)
        seen()

    async with EventProducer(settings, client_id="t") as producer:
        ids = await _publish(producer, topic, range(first))
        a = HeldCommits(settings, handler=handle_a, **_options(settings, producer, group))
        a_task = asyncio.create_task(a.run())
        await _wait(a.held)
        assert sorted(by_a) == sorted(ids)

        # A second member joins while A's commit is in flight: A's partitions are revoked.
        b = ConsumerRunner(
            settings, handler=handle_b, client_id="b", **_options(settings, producer, group)
        )
        b_task = asyncio.create_task(b.run())
        await _wait(a.revoking)
        await asyncio.sleep(0.5)
        assert "revoke ended" not in a.log  # the revocation waits for the commit in flight
        a.hold = False
        a.gate.set()

        ids += await _publish(producer, topic, range(first, first + more))
        want.update(ids)
        seen()
        try:
            await _wait(all_handled)
        finally:
            a.stop()
            b.stop()
            await asyncio.gather(a_task, b_task)

    assert a.log[:4] == ["poll commit held", "revoke began", "poll commit done", "revoke ended"]
    assert by_b  # B took partitions and handled records after the rebalance
    assert not set(by_b) & set(ids[:first])  # what A handled was committed before B got it
    counts = Counter(by_a + by_b)
    assert set(counts) == set(ids)  # nothing lost
    assert max(counts.values()) == 1  # nothing handled twice


class CountedCommits(ConsumerRunner):
    """Counts the commits the run loop starts (not the stop's or a revocation's)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.poll_commits = 0
        self.stopping = False

    async def _commit(self, only: set[TopicPartition] | None = None) -> None:
        if only is None and self._done and not self.stopping:
            self.poll_commits += 1
        await super()._commit(only)


async def test_polls_within_the_commit_interval_share_one_commit_and_stop_commits_the_rest(
    kafka_topics,
):
    settings = kafka_topics
    topic, total = settings.topics.interactions, 25
    polls: list[int] = []
    handled: list[str] = []
    done = asyncio.Event()

    async def single(delivery: Delivery) -> None:
        handled.append(delivery.event_id)
        if len(handled) == total:
            done.set()

    async def whole_poll(deliveries: list[Delivery]) -> None:
        polls.append(len(deliveries))
        for delivery in deliveries:
            await single(delivery)

    async with EventProducer(settings, client_id="t") as producer:
        await _publish(producer, topic, range(total))
        counts = {}
        for group, interval in (("g-interval-long", 60.0), ("g-interval-none", 0.0)):
            handled.clear()
            polls.clear()
            done.clear()
            runner = CountedCommits(
                settings,
                handler=single,
                batch_handler=whole_poll,
                max_batch=4,
                commit_interval_s=interval,
                **_options(settings, producer, group),
            )
            task = asyncio.create_task(runner.run())
            await _wait(done)
            await asyncio.sleep(0.5)  # an empty poll or two: a due commit would start now
            runner.stopping = True
            runner.stop()
            await task
            assert await _committed(settings, group) == total  # the stop committed the rest
            counts[interval] = (runner.poll_commits, len(polls))

    long_commits, long_polls = counts[60.0]
    assert long_polls > 1 and long_commits == 1  # only the first poll's; then none is due
    none_commits, none_polls = counts[0.0]
    assert none_polls > 1 and none_commits > 1  # no interval: a commit after most polls


async def test_batch_members_with_a_rebalance_and_a_stop_lose_nothing_and_repeat_nothing(
    kafka_topics,
):
    """Two members handling whole polls: the first's revocation commits what it
    finished, a stop mid-stream commits the finished polls only; the survivor handles
    what is left. Every record handled exactly once."""
    settings = kafka_topics
    topic, group, first, more = settings.topics.interactions, "g-batch-rebalance", 40, 40
    handled: list[str] = []
    want: set[str] = set()
    all_handled = asyncio.Event()
    reached = {10: asyncio.Event(), first: asyncio.Event()}  # records handled so far

    async def single(delivery: Delivery) -> None:
        raise AssertionError("the batch handler takes every poll")

    async def whole_poll(deliveries: list[Delivery]) -> None:
        await asyncio.sleep(0.05)  # a poll takes a while: the rebalance comes mid-poll
        handled.extend(delivery.event_id for delivery in deliveries)
        for count, event in reached.items():
            if len(handled) >= count:
                event.set()
        if want and want <= set(handled):
            all_handled.set()

    def member(client_id: str) -> ConsumerRunner:
        return HeldCommits(
            settings,
            handler=single,
            batch_handler=whole_poll,
            client_id=client_id,
            max_batch=5,
            commit_interval_s=0.0,
            **_options(settings, producer, group),
        )

    async with EventProducer(settings, client_id="t") as producer:
        ids = await _publish(producer, topic, range(first))
        a = member("a")
        a_task = asyncio.create_task(a.run())
        await _wait(reached[10])
        b = member("b")
        b_task = asyncio.create_task(b.run())
        await _wait(a.revoking)
        ids += await _publish(producer, topic, range(first, first + more))
        await _wait(reached[first])
        b.stop()  # mid-stream
        await b_task
        want.update(ids)
        if want <= set(handled):
            all_handled.set()
        try:
            await _wait(all_handled)
        finally:
            a.stop()
            await a_task

    counts = Counter(handled)
    assert set(counts) == set(ids)  # nothing lost
    assert max(counts.values()) == 1  # nothing handled twice

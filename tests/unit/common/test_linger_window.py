"""LingerWindow: batches opened while the window's first one lingers are ready with it.

aiokafka's clock for a batch's linger is ``time.monotonic`` in its accumulator
module; it is replaced here by a clock the test moves, so nothing waits.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from types import SimpleNamespace

import pytest
from aiokafka.producer import message_accumulator
from aiokafka.producer.message_accumulator import BatchBuilder, MessageBatch
from aiokafka.structs import TopicPartition

from libs.common.kafka.producer import LingerWindow, loop_batch


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _accumulator(linger_s: float) -> SimpleNamespace:
    builders = SimpleNamespace(closed=lambda: False)
    return SimpleNamespace(
        _linger_time=linger_s,
        _batch_ttl=40.0,
        _batches=defaultdict(deque),
        _waiter_future=asyncio.get_running_loop().create_future(),
        _loop=asyncio.get_running_loop(),  # aiokafka's accumulator keeps the producer's loop
        create_builder=lambda: builders,
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    # that module's ``time`` only: the event loop keeps the real clock
    monkeypatch.setattr(message_accumulator, "time", SimpleNamespace(monotonic=clock))
    return clock


async def test_batches_opened_in_a_window_are_ready_when_its_first_one_is(clock: Clock) -> None:
    accumulator = _accumulator(0.005)
    window = LingerWindow()
    first = window.open_batch(accumulator, TopicPartition("t", 0))
    clock.now += 0.002
    second = window.open_batch(accumulator, TopicPartition("t", 1))
    clock.now += 0.0029
    third = window.open_batch(accumulator, TopicPartition("t", 2))
    for batch in (first, second, third):
        assert batch.remaining_linger() == pytest.approx(0.0001)
    clock.now += 0.0002
    assert [b.remaining_linger() for b in (first, second, third)] == [None, None, None]
    assert [list(accumulator._batches[TopicPartition("t", p)]) for p in range(3)] == [
        [first],
        [second],
        [third],
    ]


async def test_a_batch_opened_after_the_window_opens_the_next_one(clock: Clock) -> None:
    accumulator = _accumulator(0.005)
    window = LingerWindow()
    window.open_batch(accumulator, TopicPartition("t", 0))
    clock.now += 0.005
    late = window.open_batch(accumulator, TopicPartition("t", 1))
    assert late.remaining_linger() == pytest.approx(0.005)  # a full linger of its own
    clock.now += 0.001
    joining = window.open_batch(accumulator, TopicPartition("t", 2))
    assert joining.remaining_linger() == pytest.approx(0.004)


async def test_another_accumulator_opens_a_window_of_its_own(clock: Clock) -> None:
    """After a restart the producer has a new accumulator: no window carries over."""
    window = LingerWindow()
    window.open_batch(_accumulator(0.005), TopicPartition("t", 0))
    clock.now += 0.002
    batch = window.open_batch(_accumulator(0.005), TopicPartition("t", 0))
    assert batch.remaining_linger() == pytest.approx(0.005)


async def test_the_sender_is_woken_when_the_window_is_up_or_at_once_without_linger(
    clock: Clock,
) -> None:
    lingering = _accumulator(0.001)
    window = LingerWindow()
    window.open_batch(lingering, TopicPartition("t", 0))
    window.open_batch(lingering, TopicPartition("t", 1))
    assert not lingering._waiter_future.done()  # not at once …
    await asyncio.wait_for(lingering._waiter_future, 5)  # … but when the linger is up

    at_once = _accumulator(0)
    LingerWindow().open_batch(at_once, TopicPartition("t", 0))
    assert at_once._waiter_future.done()


async def test_a_window_holding_full_at_records_is_ready_at_once(clock: Clock) -> None:
    """Records coming faster than the linger gathers them: the window does not wait it out."""
    accumulator = _accumulator(0.020)
    window = LingerWindow(full_at=3)
    first = window.open_batch(accumulator, TopicPartition("t", 0))
    window.added(accumulator)
    second = window.open_batch(accumulator, TopicPartition("t", 1))
    window.added(accumulator)
    assert not accumulator._waiter_future.done()
    assert second.remaining_linger() == pytest.approx(0.020)
    window.added(accumulator)  # a third record, into the first partition's batch
    assert [first.remaining_linger(), second.remaining_linger()] == [None, None]
    assert accumulator._waiter_future.done()
    # the next batch opens a window of its own, with a whole linger
    later = window.open_batch(accumulator, TopicPartition("t", 2))
    assert later.remaining_linger() == pytest.approx(0.020)


async def test_fewer_records_than_full_at_wait_for_the_linger(clock: Clock) -> None:
    accumulator = _accumulator(0.020)
    window = LingerWindow(full_at=16)
    batch = window.open_batch(accumulator, TopicPartition("t", 0))
    for _ in range(15):
        window.added(accumulator)
    assert batch.remaining_linger() == pytest.approx(0.020)
    assert not accumulator._waiter_future.done()


async def test_records_of_another_accumulator_do_not_count(clock: Clock) -> None:
    accumulator = _accumulator(0.020)
    window = LingerWindow(full_at=1)
    batch = window.open_batch(accumulator, TopicPartition("t", 0))
    window.added(_accumulator(0.020))
    assert batch.remaining_linger() == pytest.approx(0.020)
    window.added(accumulator)
    assert batch.remaining_linger() is None


async def test_a_loop_batch_is_aiokafkas_batch_with_the_loops_futures(clock: Clock) -> None:
    """Every attribute aiokafka's ``MessageBatch.__init__`` sets, with the same value; its
    futures pending, of the loop given (aiokafka's: of the running loop)."""
    loop = asyncio.get_running_loop()
    builder, tp = BatchBuilder(1024, 0), TopicPartition("t", 3)
    ours = loop_batch(tp, builder, 40.0, 0.02, loop)
    theirs = MessageBatch(tp, builder, 40.0, 0.02)
    futures = {"future", "_drain_waiter"}
    assert type(ours) is MessageBatch
    assert vars(ours).keys() == vars(theirs).keys()
    assert {k: v for k, v in vars(ours).items() if k not in futures} == {
        k: v for k, v in vars(theirs).items() if k not in futures
    }
    for name in futures:
        future = getattr(ours, name)
        assert future.get_loop() is loop is getattr(theirs, name).get_loop()
        assert not future.done()
    assert ours.remaining_linger() == pytest.approx(0.02)  # aiokafka's clock, as theirs


async def test_a_batch_the_window_opens_makes_no_future_through_get_event_loop(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its futures come from the accumulator's loop, not ``get_event_loop`` (a ``getpid``)."""

    def refused() -> None:
        raise AssertionError("asyncio.get_event_loop called")

    accumulator = _accumulator(0.005)
    monkeypatch.setattr(message_accumulator, "create_future", refused)
    batch = LingerWindow().open_batch(accumulator, TopicPartition("t", 0))
    assert batch.future.get_loop() is accumulator._loop

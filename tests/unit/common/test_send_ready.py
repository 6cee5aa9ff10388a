"""``_OnePassSender.send_ready``: the relay's batches go out from its own turn of the
loop, with the sender task's bookkeeping (the broker in flight, its partitions muted,
the sender task woken when the request is done), and the aiokafka internals it uses
are where it expects them."""

from __future__ import annotations

import asyncio
import inspect

from aiokafka import AIOKafkaProducer
from aiokafka.producer.message_accumulator import MessageAccumulator
from aiokafka.producer.sender import Sender
from aiokafka.structs import TopicPartition

from libs.common.kafka.produce_request import _OnePassSender, one_pass_requests

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


def test_the_sender_tasks_step_is_what_send_ready_repeats():
    routine = inspect.getsource(Sender._sender_routine)
    assert "await self._maybe_wait_for_pid()" in routine
    assert "ignore_nodes=self._in_flight" in routine
    assert "muted_partitions=muted_partitions" in routine
    assert "self._in_flight.add(node_id)" in routine
    assert "self._muted_partitions.add(tp)" in routine
    assert "waiters.add(self._message_accumulator.waiter())" in routine
    drain = inspect.getsource(MessageAccumulator.drain_by_nodes)
    assert "self._waiter_future.set_result(None)" in drain  # drained: the sender task wakes
    assert "self._waiter_future = self._loop.create_future()" in drain
    assert "return self._waiter_future" in inspect.getsource(MessageAccumulator.waiter)


class _Accumulator:
    def __init__(self, ready: dict[int, dict[TopicPartition, object]]) -> None:
        self.ready = ready
        self.drained_with: tuple[object, object] | None = None
        self._waiter_future = asyncio.get_running_loop().create_future()

    def drain_by_nodes(self, ignore_nodes, muted_partitions):  # type: ignore[no-untyped-def]
        self.drained_with = (set(ignore_nodes), set(muted_partitions))
        ready, self.ready = self.ready, {}
        return ready, False


async def _sender(accumulator: _Accumulator, *, has_pid: bool = True) -> _OnePassSender:
    producer = one_pass_requests(AIOKafkaProducer(bootstrap_servers="localhost:1"))
    sender = producer._sender
    assert type(sender) is _OnePassSender
    sender._message_accumulator = accumulator
    sender._txn_manager = _Transactions(has_pid)
    await producer.stop()
    return sender


class _Transactions:
    transactional_id = None

    def __init__(self, has_pid: bool) -> None:
        self._has_pid = has_pid

    def has_pid(self) -> bool:
        return self._has_pid


async def test_send_ready_starts_a_request_per_broker_and_keeps_the_sender_tasks_books():
    accumulator = _Accumulator({1: {TP0: "batch 0"}, 2: {TP1: "batch 1"}})
    sender = await _sender(accumulator)
    sender._in_flight.add(3)
    requested = asyncio.Event()
    sent: list[tuple[int, dict[TopicPartition, object]]] = []

    async def send_produce_req(node_id: int, batches: dict[TopicPartition, object]) -> None:
        sent.append((node_id, batches))
        await requested.wait()
        # what _OnePassSender._send_produce_req does once answered
        sender._in_flight.remove(node_id)
        for tp in batches:
            sender._muted_partitions.remove(tp)

    sender._send_produce_req = send_produce_req  # type: ignore[method-assign]
    assert sender.send_ready() == 2
    assert accumulator.drained_with == ({3}, set())
    assert sender._in_flight == {1, 2, 3}  # in flight from the caller's turn on
    assert sender._muted_partitions == {TP0, TP1}
    waiter = accumulator._waiter_future
    await asyncio.sleep(0)  # the produce tasks' first step: the requests
    assert sent == [(1, {TP0: "batch 0"}), (2, {TP1: "batch 1"})]
    assert not waiter.done()
    requested.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sender._in_flight == {3}
    assert not sender._muted_partitions
    assert waiter.done()  # the sender task drains again (a batch put back for a retry)
    assert not sender._started


async def test_send_ready_leaves_everything_to_the_sender_task_without_a_producer_id():
    accumulator = _Accumulator({1: {TP0: "batch 0"}})
    sender = await _sender(accumulator, has_pid=False)
    assert sender.send_ready() == 0
    assert accumulator.drained_with is None
    assert not sender._in_flight


async def test_send_ready_with_nothing_ready_starts_nothing():
    accumulator = _Accumulator({})
    sender = await _sender(accumulator)
    assert sender.send_ready() == 0
    assert not sender._in_flight and not sender._started

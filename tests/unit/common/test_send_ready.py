"""``_OnePassSender.send_ready``: the relay's batches go out from its own turn of the
loop, with the sender task's bookkeeping (the broker in flight, its partitions muted,
the sender task woken when the request is done), and the aiokafka internals it uses
are where it expects them."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient, ConnectionGroup
from aiokafka.conn import AIOKafkaConnection, CloseReason
from aiokafka.errors import KafkaConnectionError, RequestTimedOutError
from aiokafka.producer.message_accumulator import MessageAccumulator
from aiokafka.producer.sender import Sender, SendProduceReqHandler
from aiokafka.structs import TopicPartition

from libs.common.kafka.produce_request import (
    _AnsweredClient,
    _OnePassProduceHandler,
    _OnePassSender,
    one_pass_requests,
)

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


def _assert_source_has(function: object, *lines: str) -> None:
    """aiokafka's ``function`` still does what the override repeats or relies on."""
    source = inspect.getsource(function)  # type: ignore[arg-type]
    assert [line for line in lines if line not in source] == []


def test_the_sender_tasks_step_is_what_send_ready_repeats():
    _assert_source_has(
        Sender._sender_routine,
        "await self._maybe_wait_for_pid()",
        "ignore_nodes=self._in_flight",
        "muted_partitions=muted_partitions",
        "self._in_flight.add(node_id)",
        "self._muted_partitions.add(tp)",
        "waiters.add(self._message_accumulator.waiter())",
    )
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

    async def send_produce_req(
        node_id: int, batches: dict[TopicPartition, object], handler: object
    ) -> None:
        assert isinstance(handler, _OnePassProduceHandler)  # its request written if it could
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


def test_aiokafkas_send_writes_the_request_without_suspending_once_connected():
    # what write_now does a turn earlier: AIOKafkaClient.send's way to the write
    _assert_source_has(
        AIOKafkaClient.send,
        "if not (await self.ready(node_id, group=group)):",
        "future = self._conns[(node_id, group)].send(",
        "self._conns[(node_id, group)].close(reason=CloseReason.CONNECTION_TIMEOUT)",
        "raise RequestTimedOutError() from exc",
    )
    _assert_source_has(AIOKafkaClient._get_conn, "if conn_id in self._conns:", "return conn")
    _assert_source_has(
        AIOKafkaConnection.send,
        "self._writer.write(size + message)",
        "return wait_for(fut, self._request_timeout)",
    )
    _assert_source_has(
        SendProduceReqHandler.do,
        "request = self.create_request()",
        "response = await self._client.send(node_id, request)",
    )


class _Batch:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def get_data_buffer(self) -> bytes:
        return self.data


class _Connection:
    """A broker's connection that records what is written and answers when told."""

    def __init__(self, *, connected: bool = True, broken: bool = False) -> None:
        self._connected = connected
        self._broken = broken
        self.written: list[object] = []
        self.closed: list[object] = []
        self.answers: list[Coroutine[Any, Any, object]] = []
        self.answer: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    def connected(self) -> bool:
        return self._connected

    def send(self, request: object, expect_response: bool = True) -> object:
        if self._broken:
            raise KafkaConnectionError("broken")
        self.written.append(request)

        async def answer() -> object:
            return await self.answer

        self.answers.append(answer())
        return self.answers[-1]

    def close(self, reason: object) -> None:
        self.closed.append(reason)


async def _connected_sender(connection: _Connection) -> _OnePassSender:
    producer = one_pass_requests(AIOKafkaProducer(bootstrap_servers="localhost:1", acks=1))
    await producer.stop()
    sender = producer._sender
    sender.client._conns[(1, ConnectionGroup.DEFAULT)] = connection
    return sender


async def test_the_request_is_written_from_the_callers_turn_and_its_answer_handled_by_do():
    connection = _Connection()
    sender = await _connected_sender(connection)
    handler = _OnePassProduceHandler(sender, {TP0: _Batch(b"records")})
    handled: list[object] = []
    handler.handle_response = handled.append  # type: ignore[method-assign]
    assert handler.write_now(1)
    assert len(connection.written) == 1  # written now, before any turn of the loop
    request = connection.written[0]
    assert request._topics == [("t", [(0, b"records")])]  # type: ignore[attr-defined]
    doing = asyncio.ensure_future(handler.do(1))
    await asyncio.sleep(0)
    assert connection.written == [request]  # not written a second time
    connection.answer.set_result("the answer")
    await doing
    assert handled == ["the answer"]


async def test_without_a_connection_up_the_request_is_left_to_aiokafkas_do():
    for connection in (_Connection(connected=False), _Connection(broken=True)):
        sender = await _connected_sender(connection)
        handler = _OnePassProduceHandler(sender, {TP0: _Batch(b"records")})
        assert not handler.write_now(1)
        assert handler._client is sender.client and handler._written is None
        assert not connection.written
    sender = await _connected_sender(_Connection())
    assert not _OnePassProduceHandler(sender, {TP0: _Batch(b"r")}).write_now(2)  # no connection


async def test_an_answer_that_times_out_closes_the_connection_as_aiokafkas_send_does():
    connection = _Connection()

    async def answer() -> object:
        raise TimeoutError  # the request timeout of the connection's wait_for

    client = _AnsweredClient(object(), connection, answer())
    with pytest.raises(RequestTimedOutError):
        await client.send(1, object())
    assert connection.closed == [CloseReason.CONNECTION_TIMEOUT]


async def test_an_answer_the_produce_task_never_awaited_is_closed_when_the_task_ends():
    connection = _Connection()
    sender = await _connected_sender(connection)
    sender._message_accumulator = _Accumulator({1: {TP0: _Batch(b"records")}})
    sender._txn_manager = _Transactions(True)
    assert sender.send_ready() == 1
    (answer,) = connection.answers  # the request written, its answer not awaited yet
    (task,) = sender._started
    task.cancel()  # before its first step: do never awaits the answer
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)  # the task's done callbacks
    assert inspect.getcoroutinestate(answer) == inspect.CORO_CLOSED  # no "never awaited"
    assert not sender._started

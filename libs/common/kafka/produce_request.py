"""Produce requests encoded in one pass: each record batch copied once, not six times.

aiokafka 0.14.0 encodes a produce request field by field: ``Bytes`` prepends the
batch's length (``Int32 + batch``, a copy of the batch), then every enclosing
``Schema`` and ``Array`` joins what its fields returned (partition, partitions, topic,
topics, request: five more copies). The relay's batches are up to 1 MB, so those
copies were most of its memcpy (``bench.relay_callgrind``). Here the request's
fields are encoded by aiokafka's own types and the pieces joined once, batches
included: the same bytes (``tests/unit/common/test_produce_request.py`` holds them
against aiokafka's encoding).

Their responses (v5 to v7, what brokers since Kafka 1.0 answer) are decoded with one
``struct`` call a partition, not aiokafka's field by field (a Python call and a
``BytesIO.read`` each field: 4.5 µs a partition, about one a record batch): the same
response object (the test holds it against aiokafka's decoding), aiokafka's decoding
for anything it cannot read.

``one_pass_requests`` puts a producer's sender on this encoding; the aiokafka
internals it relies on (``Sender._send_produce_req``, ``SendProduceReqHandler``,
``ProduceRequest``'s fields, the v3+ schema) are pinned by that test and by the
exact aiokafka version in ``pyproject.toml``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import struct
from collections.abc import Coroutine
from io import BytesIO
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.client import ConnectionGroup
from aiokafka.conn import CloseReason
from aiokafka.errors import KafkaError, RequestTimedOutError
from aiokafka.producer.sender import Sender, SendProduceReqHandler
from aiokafka.protocol.produce import ProduceRequest, ProduceRequest_v3, ProduceResponse_v5
from aiokafka.protocol.types import Int16, Int32, String

log = logging.getLogger(__name__)
_STRING = String("utf-8")

#: The schema of ProduceRequest v3 to v8 (one object in aiokafka): the one encoded here.
ONE_PASS_SCHEMA = ProduceRequest_v3.SCHEMA


def encode_produce(
    transactional_id: str | None,
    required_acks: int,
    timeout: int,
    topics: list[tuple[str, list[tuple[int, Any]]]],
) -> bytes:
    """A v3+ produce request's body, as aiokafka's ``SCHEMA.encode`` makes it."""
    parts: list[Any] = [
        _STRING.encode(transactional_id),
        Int16.encode(required_acks),
        Int32.encode(timeout),
        Int32.encode(len(topics)),
    ]
    for topic, partitions in topics:
        parts.append(_STRING.encode(topic))
        parts.append(Int32.encode(len(partitions)))
        for partition, records in partitions:
            parts.append(Int32.encode(partition))
            if records is None:
                parts.append(Int32.encode(-1))
                continue
            parts.append(Int32.encode(len(records)))
            parts.append(records)  # the batch's buffer, copied by the join only
    return b"".join(parts)


#: The schema of ProduceResponse v5 to v7 (one object in aiokafka): the one decoded here.
FAST_RESPONSE_SCHEMA = ProduceResponse_v5.SCHEMA

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")
#: partition, error_code, offset, timestamp, log_start_offset
_PARTITION_V5 = struct.Struct(">ihqqq")


def decode_produce_response(data: bytes) -> tuple[list[Any] | None, int]:
    """(topics, throttle_time_ms) of a v5-v7 produce response's body, as aiokafka's
    ``SCHEMA.decode`` reads them: a list (None for a null array) of (topic, partitions),
    each partition a tuple of its five fields. Raises on a body too short (``struct.error``,
    ``ValueError``) or a topic name not UTF-8."""
    (count,) = _INT32.unpack_from(data, 0)
    position = 4
    topics = []
    for _ in range(count):
        (length,) = _INT16.unpack_from(data, position)
        position += 2
        topic = None
        if length >= 0:
            name = data[position : position + length]
            if len(name) != length:
                raise ValueError("Buffer underrun decoding string")
            topic = name.decode("utf-8")
            position += length
        (partitions_count,) = _INT32.unpack_from(data, position)
        position += 4
        partitions = []
        for _ in range(partitions_count):
            partitions.append(_PARTITION_V5.unpack_from(data, position))
            position += _PARTITION_V5.size
        topics.append((topic, None if partitions_count == -1 else partitions))
    (throttle_time_ms,) = _INT32.unpack_from(data, position)
    return (None if count == -1 else topics), throttle_time_ms


@functools.cache
def _fast_response(response_class: type[Any]) -> type[Any]:
    """``response_class`` (a ProduceResponse v5-v7) decoding with ``decode_produce_response``."""

    class Fast(response_class):  # type: ignore[misc,valid-type]
        @classmethod
        def decode(cls, data: BytesIO | bytes) -> Any:
            if isinstance(data, bytes):
                data = BytesIO(data)
            start = data.tell()
            try:
                return cls(*decode_produce_response(data.read()))
            except (struct.error, ValueError):  # aiokafka's decoding says what is wrong
                data.seek(start)
                return super().decode(data)

    Fast.__name__ = Fast.__qualname__ = response_class.__name__
    return Fast


@functools.cache
def _one_pass_struct(struct_class: type[Any]) -> type[Any]:
    """``struct_class`` (a ProduceRequest v3+ struct) encoding in one pass, and its
    response decoded by ``decode_produce_response`` where its schema is v5's."""
    response_class = struct_class.RESPONSE_TYPE
    if response_class.SCHEMA is FAST_RESPONSE_SCHEMA:
        response_class = _fast_response(response_class)

    class OnePass(struct_class):  # type: ignore[misc,valid-type]
        RESPONSE_TYPE = response_class

        def encode(self) -> bytes:
            return encode_produce(
                self.transactional_id, self.required_acks, self.timeout, self.topics
            )

    OnePass.__name__ = OnePass.__qualname__ = struct_class.__name__
    return OnePass


class OnePassProduceRequest(ProduceRequest):
    """aiokafka's ``ProduceRequest``, its v3+ structs encoding in one pass."""

    def build(self, request_struct_class: type[Any]) -> Any:
        if request_struct_class.SCHEMA is not ONE_PASS_SCHEMA:  # v0-v2: aiokafka's
            return super().build(request_struct_class)
        return _one_pass_struct(request_struct_class)(
            self._transactional_id, self._required_acks, self._timeout, self._topics
        )


class _OnePassProduceHandler(SendProduceReqHandler):  # type: ignore[misc]
    _written: OnePassProduceRequest | None = None

    def create_request(self) -> OnePassProduceRequest:
        if self._written is not None:  # ``write_now``'s, for ``do``
            return self._written
        request = super().create_request()
        return OnePassProduceRequest(
            request._transactional_id, request._required_acks, request._timeout, request._topics
        )

    def write_now(self, node_id: int) -> bool:
        """The request written to the broker's connection from the caller's turn of the
        loop, if that connection is up (True); ``do`` then awaits its answer and handles
        it as aiokafka's ``do`` does. Else (False) ``do`` sends it as aiokafka does.

        ``do`` runs in the produce task, whose first step is a turn later: behind
        whatever else is ready then (a poll being routed: a slice of its CPU), while the
        request is ready now. aiokafka's ``do`` reaches its write without a suspension
        when connected (``AIOKafkaClient.send``: ``ready``, then the connection's
        ``send``): the same write, a turn earlier."""
        connection = self._client._conns.get((node_id, ConnectionGroup.DEFAULT))
        if connection is None or not connection.connected():
            return False
        request = self.create_request()
        if request.required_acks == 0:  # no answer to wait for: aiokafka's own way
            return False
        try:
            answer = connection.send(request)
        except KafkaError:  # the connection broke: ``do`` reconnects, as aiokafka's
            return False
        self._written = request
        self._client = _AnsweredClient(self._client, connection, answer)
        return True

    def forget_answer(self) -> None:
        """The produce task is done: an answer it never awaited (cancelled before its
        first step) closed, not left to warn that it was never awaited."""
        if isinstance(self._client, _AnsweredClient):
            self._client.close()


class _AnsweredClient:
    """The producer's client as the handler of a request ``write_now`` wrote sees it:
    ``send`` awaits that request's answer, as ``AIOKafkaClient.send`` does after its
    write (a timeout closes the connection and raises ``RequestTimedOutError``);
    everything else is the client's own."""

    def __init__(self, client: Any, connection: Any, answer: Coroutine[Any, Any, Any]) -> None:
        self._client = client
        self._connection = connection
        #: the connection's wait for the answer (``wait_for`` of its future, with the
        #: request timeout), awaited here in the produce task as aiokafka awaits it: no
        #: task of its own, which would be one more turn before the acks
        self._answer = answer

    async def send(self, node_id: int, request: Any, **_options: Any) -> Any:
        try:
            return await self._answer
        except TimeoutError as exc:
            self._connection.close(reason=CloseReason.CONNECTION_TIMEOUT)
            raise RequestTimedOutError() from exc

    def close(self) -> None:
        self._answer.close()  # nothing if it ran

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _OnePassSender(Sender):  # type: ignore[misc]
    async def _send_produce_req(
        self,
        node_id: int,
        batches: dict[Any, Any],
        handler: _OnePassProduceHandler | None = None,
    ) -> None:
        # aiokafka 0.14.0's, with the handler above (``send_ready``'s, its request written)
        if handler is None:
            handler = _OnePassProduceHandler(self, batches)
        await handler.do(node_id)
        self._in_flight.remove(node_id)
        for tp in batches:
            self._muted_partitions.remove(tp)

    def send_ready(self) -> int:
        """Start the produce requests of the batches ready now, from the caller's turn of
        the loop: one step of the sender task's loop (drain what is ready per broker not
        in flight, a produce task each, the broker in flight and its partitions muted
        meanwhile). Returns how many requests it started (0: the sender task sends, as
        before: nothing ready, or no producer id yet).

        A batch handed over wakes the sender task by a future its ``asyncio.wait``
        watches: its callback, then the task's step, then the produce task's first step
        — three turns of the loop, each behind whatever else is ready (a poll being
        routed: 18-41 ms p50 from the relay's publish to its request at 250-500/s under
        load 7, ``bench.router_throughput --trace``). Here the produce task is the next
        turn. The sender task still wakes (``drain_by_nodes`` resolves the future it
        watches) and sends what is left (another broker's, an unknown leader's); it
        does not watch these tasks, so each wakes it when done, as its own would: a
        batch put back for a retry is drained again. Each request is written from this
        turn too where its broker's connection is up (``write_now``): the produce task
        only awaits and handles the answer."""
        txn_manager = self._txn_manager
        if txn_manager is not None and (
            txn_manager.transactional_id is not None or not txn_manager.has_pid()
        ):
            return 0
        accumulator = self._message_accumulator
        ready, _unknown_leaders = accumulator.drain_by_nodes(
            ignore_nodes=self._in_flight, muted_partitions=self._muted_partitions
        )
        for node_id, batches in ready.items():
            handler = _OnePassProduceHandler(self, batches)
            handler.write_now(node_id)  # on the wire from this turn, not the task's first
            task = asyncio.ensure_future(self._send_produce_req(node_id, batches, handler))
            self._in_flight.add(node_id)
            for tp in batches:
                self._muted_partitions.add(tp)
            self._started.add(task)
            task.add_done_callback(self._sent)
            task.add_done_callback(lambda _task, handler=handler: handler.forget_answer())
        return len(ready)

    @functools.cached_property
    def _started(self) -> set[asyncio.Task[None]]:
        """``send_ready``'s produce tasks not done yet (a task needs a reference)."""
        return set()

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._started.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # the sender task raises its own produce tasks' errors ("a bug") and stops
            log.error("produce request failed: %r", task.exception())
        waiter = self._message_accumulator._waiter_future
        if not waiter.done():  # the sender task drains again: a batch put back, the rest
            waiter.set_result(None)


def one_pass_requests(producer: AIOKafkaProducer) -> AIOKafkaProducer:
    """``producer`` (not started) sending its produce requests encoded in one pass."""
    sender = producer._sender
    assert type(sender) is Sender, type(sender)  # aiokafka's, as pinned
    sender.__class__ = _OnePassSender
    return producer

"""Idempotent producer: ``publish`` returns only after the broker acknowledged.

Ingest services acknowledge their source (HTTP 2xx, IMAP flag) only after
this returns, so nothing is acknowledged that is not safely on Kafka.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber, ProducerFenced
from aiokafka.producer import message_accumulator
from aiokafka.producer.message_accumulator import BatchBuilder, MessageBatch
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.structs import RecordMetadata, TopicPartition

from libs.common import metrics
from libs.common.cloudevents import CloudEvent, Headers, encode
from libs.common.kafka.partitioner import KeyPartitioner
from libs.common.kafka.produce_request import one_pass_requests
from libs.common.kafka.record_batch import RecordBatchWriter, now_ms, written_batch
from libs.common.metric_updates import Update, counter_adder, histogram_observer
from libs.common.settings import KafkaSettings

log = logging.getLogger(__name__)

#: Many senders each awaiting their own ack share one open batch per partition; with
#: aiokafka's 16 KB default a burst of 1-2 KB events collapsed throughput (see
#: libs/common/webhooks/producer.py), so batches are larger by default.
DEFAULT_BATCH_BYTES = 1024 * 1024

#: Errors after which aiokafka's idempotent producer cannot continue (aiokafka#1017).
_FATAL_PRODUCER_ERRORS = (OutOfOrderSequenceNumber, ProducerFenced)


#: How many event ids a ``PublishError`` of a batch names (then "… and N more").
_IDS_NAMED = 20


@functools.cache
def _published(topic: str, ce_type: str) -> Update:
    """``EVENTS_PUBLISHED.labels(topic, ce_type).inc``, looked up once: ``labels()`` cost
    ~6.5 µs a call here (timeit), twice per ``publish`` with the histogram's; the updater
    makes only the value update ``inc`` makes (``libs/common/metric_updates.py``). Topics
    and event types are a fixed few, so is this cache."""
    return counter_adder(metrics.EVENTS_PUBLISHED.labels(topic, ce_type))


@functools.cache
def _publish_seconds(topic: str) -> Update:
    """``PUBLISH_SECONDS.labels(topic).observe``, looked up once (~2.7 µs a call)."""
    return histogram_observer(metrics.PUBLISH_SECONDS.labels(topic))


class PublishError(RuntimeError):
    """The broker did not acknowledge in time; the caller must not ack its source."""


class OutgoingRecord(NamedTuple):
    """One record of a batched ``send_many``: raw bytes, as ``send`` takes them."""

    value: bytes | None
    key: str | bytes | None
    headers: Headers


class EventProducer:
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        client_id: str,
        max_request_size: int = 4 * 1024 * 1024,
        max_batch_size: int = DEFAULT_BATCH_BYTES,
    ) -> None:
        self._settings = settings
        self._client_id = client_id
        self._max_request_size = max_request_size
        self._max_batch_size = max_batch_size
        self._producer: AIOKafkaProducer | None = None
        #: the default partitioner's choices, cheaper: for ``send`` (aiokafka's) and ``send_many``
        self._partitioner = KeyPartitioner()
        self._restart_lock = asyncio.Lock()
        self._deadlines = AckDeadlines()
        self._window = LingerWindow()

    def _build(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            **self._settings.client_options(),
            client_id=self._client_id,
            enable_idempotence=True,  # implies acks=all
            acks="all",
            linger_ms=self._settings.linger_ms,
            max_request_size=self._max_request_size,
            max_batch_size=self._max_batch_size,
            partitioner=self._partitioner,
        )
        return one_pass_requests(producer)

    async def start(self) -> None:
        self._producer = self._build()
        try:
            await self._producer.start()
        except Exception:
            await self._producer.stop()
            self._producer = None
            raise

    async def stop(self) -> None:
        """Flush what is in flight, then close."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()
        self._deadlines.release()

    async def __aenter__(self) -> EventProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> RecordMetadata:
        headers, value = encode(event)
        record = await self.send(topic, value, key=key, headers=headers)
        _published(topic, event.type)(1)
        return record

    async def send(
        self, topic: str, value: bytes | None, *, key: str | bytes | None, headers: Headers
    ) -> RecordMetadata:
        """Send raw bytes and wait for the ack, bounded by ``send_timeout_s``."""
        if self._producer is None:
            raise PublishError(f"producer {self._client_id} is not started")
        key_bytes = key.encode() if isinstance(key, str) else key
        started = time.perf_counter()
        try:
            future = self._append_now(topic, value, key_bytes, headers)
            if future is None:  # aiokafka must wait (metadata, room in a full batch)
                async with asyncio.timeout(self._settings.send_timeout_s):
                    record = await self._send_once(topic, value, key_bytes, headers)
            else:
                record = await self._ack(future, topic, value, key_bytes, headers)
        except (TimeoutError, KafkaError) as exc:
            metrics.PUBLISH_FAILURES.labels(topic).inc()
            raise PublishError(f"publish to {topic} not acknowledged: {exc!r}") from exc
        _publish_seconds(topic)(time.perf_counter() - started)
        return record

    async def publish_many(
        self, topic: str, events: Sequence[tuple[CloudEvent, str]]
    ) -> list[RecordMetadata]:
        """Publish ``(event, key)`` pairs as one batch; returns once every one is acked.

        Same guarantee as ``publish`` for each event, at a fraction of the CPU: the
        records are appended without waiting in between (one request per partition),
        one deadline covers them all, and the metrics are counted once per batch."""
        records = []
        for event, key in events:
            headers, value = encode(event)
            records.append(OutgoingRecord(value, key, headers))
        acked = await self.send_many(topic, records)
        for ce_type, count in Counter(event.type for event, _ in events).items():
            _published(topic, ce_type)(count)
        return acked

    async def send_many(
        self, topic: str, records: Sequence[OutgoingRecord]
    ) -> list[RecordMetadata]:
        """Send raw records in order and wait for all their acks, bounded together by
        ``send_timeout_s``. Any record not acknowledged raises ``PublishError`` naming
        the topic and the ``ce_id`` of each record that failed; the others may have been
        written (a retry repeats them with the same ``ce_id``; consumers dedupe on it).
        """
        if self._producer is None:
            raise PublishError(f"producer {self._client_id} is not started")
        if not records:
            return []
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._settings.send_timeout_s):
                acked = await self._send_many_once(topic, records)
        except (TimeoutError, KafkaError) as exc:
            metrics.PUBLISH_FAILURES.labels(topic).inc()
            failed = exc.failed if isinstance(exc, _BatchFailed) else records
            cause = exc.cause if isinstance(exc, _BatchFailed) else exc
            raise PublishError(
                f"publish of {len(failed)} of {len(records)} records to {topic} not "
                f"acknowledged ({_event_ids(failed)}): {cause!r}"
            ) from cause
        _publish_seconds(topic)(time.perf_counter() - started)
        return acked

    async def _send_many_once(
        self, topic: str, records: Sequence[OutgoingRecord]
    ) -> list[RecordMetadata]:
        results = await self._append_and_wait(topic, records)
        fatal = [r for r in results if isinstance(r, _FATAL_PRODUCER_ERRORS)]
        if fatal:
            # As ``_send_once``: a fresh producer, and the records that failed once more.
            log.warning("producer %s hit %r; restarting it", self._client_id, fatal[0])
            await self._restart()
            again = [i for i, r in enumerate(results) if isinstance(r, BaseException)]
            retried = await self._append_and_wait(topic, [records[i] for i in again])
            for i, result in zip(again, retried, strict=True):
                results[i] = result
        failed = [(records[i], r) for i, r in enumerate(results) if isinstance(r, BaseException)]
        if failed:
            raise _BatchFailed([record for record, _ in failed], failed[0][1])
        return results  # type: ignore[return-value]  # no exceptions left

    async def _append_and_wait(
        self, topic: str, records: Sequence[OutgoingRecord]
    ) -> list[RecordMetadata | BaseException]:
        """The records in batches of our own (``send_batches``), all handed to aiokafka
        before any ack is awaited. ``producer.send`` per record (a coroutine, a metadata
        check, a future and a debug log each) made ``send_many`` 11.7 CPU-µs a record,
        500 a call; this is 6.1 (interleaved runs at load ~7; ``bench.kafka_ceiling``
        has its throughput). A batch the broker refuses fails its records only."""
        producer = self._producer
        assert producer is not None
        sent = await send_batches(
            producer,
            self._partitioner,
            topic,
            [
                (r.key.encode() if isinstance(r.key, str) else r.key, r.value, r.headers)
                for r in records
            ],
        )
        acks = await asyncio.gather(*(future for _, future in sent), return_exceptions=True)
        results: list[RecordMetadata | BaseException] = [*records]  # type: ignore[list-item]
        for (indexes, _), ack in zip(sent, acks, strict=True):
            if isinstance(ack, BaseException):
                for index in indexes:
                    results[index] = ack
                continue
            for position, index in enumerate(indexes):  # offsets follow the batch's order
                results[index] = RecordMetadata(
                    ack.topic,
                    ack.partition,
                    ack.topic_partition,
                    ack.offset + position,
                    ack.timestamp,
                    ack.timestamp_type,
                    ack.log_start_offset,
                )
        return results

    def _append_now(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> asyncio.Future[RecordMetadata] | None:
        """What ``AIOKafkaProducer.send`` and its accumulator's ``add_message`` do when
        nothing needs waiting for — partition, append to the partition's open batch (or
        a new one), return the record's future — without their two coroutines, metadata
        coroutine and debug log. None when aiokafka must wait or refuse (topic metadata
        unknown, open batch full, a record larger than ``max_request_size``, no key and
        no value, accumulator closed or failed, transactions): ``send`` then goes
        through aiokafka. Same batches, same partitions (the partitioner is ours,
        ``KeyPartitioner``). aiokafka's private attributes read here are pinned by
        ``tests/integration/common/test_producer_send.py``.
        """
        producer = self._producer
        assert producer is not None
        accumulator = producer._message_accumulator
        if accumulator._closed or accumulator._exception is not None:
            return None
        if value is None and key is None:  # aiokafka asserts
            return None
        transactions = producer._txn_manager
        if transactions is not None and transactions.transactional_id is not None:
            return None
        cluster = producer.client.cluster
        partitions = cluster.partitions_for_topic(topic)
        if not partitions:
            return None
        # as aiokafka's ``_partition``; KeyPartitioner reads the available ones only unkeyed
        available = () if key is not None else list(cluster.available_partitions_for_topic(topic))
        if DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers) > (
            self._max_request_size
        ):
            return None  # aiokafka raises MessageSizeTooLargeError
        tp = TopicPartition(topic, self._partitioner(key, list(partitions), available))
        pending = accumulator._batches.get(tp)
        batch = pending[-1] if pending else self._window.open_batch(accumulator, tp)
        # the record's future made by the producer's loop itself: aiokafka's default asks
        # ``asyncio.get_running_loop()``, which in CPython 3.11 is a ``getpid`` syscall
        # (its fork check; so is every future made without a loop: ~3 a request); None: full
        future = append_record(batch, key, value, headers, accumulator._loop.create_future)
        if future is not None:
            self._window.added(accumulator)
        return future

    async def _ack(
        self,
        future: asyncio.Future[RecordMetadata],
        topic: str,
        value: bytes | None,
        key: bytes | None,
        headers: Headers,
    ) -> RecordMetadata:
        """The record's ack, bounded by ``send_timeout_s``: ``AckDeadlines`` fails the
        record's future at its deadline (aiokafka skips a future already done), not
        ``asyncio.timeout``'s context, reschedule and task cancellation."""
        loop = future.get_loop()  # the running one, without a ``getpid`` (see _append_now)
        deadline = loop.time() + self._settings.send_timeout_s
        self._deadlines.add(loop, deadline, future)
        try:
            return await future
        except _FATAL_PRODUCER_ERRORS as exc:
            log.warning("producer %s hit %r; restarting it", self._client_id, exc)
            async with asyncio.timeout_at(deadline):
                await self._restart()
                assert self._producer is not None
                return await self._producer.send_and_wait(topic, value, key=key, headers=headers)

    async def _send_once(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> RecordMetadata:
        assert self._producer is not None
        try:
            return await self._producer.send_and_wait(topic, value, key=key, headers=headers)
        except _FATAL_PRODUCER_ERRORS as exc:
            log.warning("producer %s hit %r; restarting it", self._client_id, exc)
            await self._restart()
            assert self._producer is not None
            return await self._producer.send_and_wait(topic, value, key=key, headers=headers)

    async def _restart(self) -> None:
        async with self._restart_lock:
            old, self._producer = self._producer, None
            if old is not None:
                await old.stop()
            await self.start()

    async def ready(self) -> bool:
        """True when the broker answers a metadata request now."""
        if self._producer is None:
            return False
        client = self._producer.client
        metadata = await client.fetch_all_metadata()
        return bool(metadata.brokers())


KeyedRecord = tuple[bytes | None, bytes | None, Headers]
"""(key, value, headers) of one record, as aiokafka takes them."""


async def send_batches(
    producer: AIOKafkaProducer,
    partitioner: KeyPartitioner,
    topic: str,
    records: Sequence[KeyedRecord],
    written_headers: Sequence[bytes] | None = None,
) -> list[tuple[list[int], asyncio.Future[RecordMetadata]]]:
    """Hand ``records`` to aiokafka in batches of our own: partitioned as Kafka's default
    partitioner does (``partitioner``), appended in list order, a new batch when one is
    full. Returns each batch's record indexes (in ``records``) and the future of its
    ack; awaits only the hand-over (aiokafka waits for the topic's metadata, or for
    room behind a partition's batch in flight). The relay's ``BatchPublisher`` and
    ``EventProducer.send_many`` both send this way.

    ``written_headers`` (the relay's): each record's headers as ``headers_bytes`` writes
    them; the batches are then written by a ``RecordBatchWriter`` where it writes
    aiokafka's bytes (``written_batch``), else by aiokafka's builder, as without them."""
    await producer.partitions_for(topic)  # the topic's metadata, fetched if unknown
    cluster = producer.client.cluster
    partitions = sorted(cluster.partitions_for_topic(topic))
    available = sorted(cluster.available_partitions_for_topic(topic))
    by_partition: dict[int, list[int]] = {}
    keys = [record[0] for record in records]
    for index, partition in enumerate(partitioner.partition_all(keys, partitions, available)):
        by_partition.setdefault(partition, []).append(index)
    sent = []
    for partition, indexes in by_partition.items():
        position, count = 0, len(indexes)
        while position < count:
            batch = written_batch(producer) if written_headers else producer.create_batch()
            end = fill_batch(batch, records, indexes, position, written_headers)
            if end == position:  # never: aiokafka's builder takes a new batch's first record
                raise PublishError(f"a record to {topic} fits no batch")
            handed = await producer.send_batch(batch, topic, partition=partition)
            sent.append((indexes[position:end], handed))
            position = end
    return sent


def fill_batch(
    batch: BatchBuilder,
    records: Sequence[KeyedRecord],
    indexes: list[int],
    start: int,
    written_headers: Sequence[bytes] | None = None,
) -> int:
    """Append ``records[i]`` for ``i`` in ``indexes[start:]``, in order, to ``batch`` until
    it is full (then closed, as aiokafka's ``BatchBuilder.append`` closes it); returns the
    position in ``indexes`` of the first record left out (``len(indexes)``: none).

    The records go straight to the batch's record builder (aiokafka's Cython one) with
    positional arguments, as ``BatchBuilder.append(key=, value=, timestamp=None,
    headers=)`` passes them for a producer without serializers (ours): not through
    ``append``'s and ``_serialize``'s Python frames and keywords a record. The same
    batches, byte for byte (``tests/unit/common/test_fill_batch.py``). On a
    ``RecordBatchWriter`` (``written_batch``'s) all in one call, stamped with the time of
    the call, as aiokafka stamps each with the time of its append, with the headers
    ``written_headers`` has ready (``tests/unit/common/test_record_batch.py``)."""
    end = len(indexes)
    if batch._key_serializer is not None or batch._value_serializer is not None:
        for position in range(start, end):
            key, value, headers = records[indexes[position]]
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                return position
        return end
    if batch._closed:
        return start
    builder = batch._builder
    if type(builder) is RecordBatchWriter:
        written = builder.append_all(
            records, indexes, start, batch._relative_offset, now_ms(), written_headers
        )
        batch._relative_offset += written
        if start + written < end:
            batch.close()
        return start + written
    append = builder.append
    offset = batch._relative_offset
    position = start
    try:
        while position < end:
            key, value, headers = records[indexes[position]]
            if append(offset, None, key, value, headers) is None:
                batch.close()
                break
            offset += 1
            position += 1
    finally:
        batch._relative_offset = offset
    return position


def append_record(
    batch: MessageBatch,
    key: bytes | None,
    value: bytes | None,
    headers: Headers,
    create_future: Callable[[], asyncio.Future[RecordMetadata]],
) -> asyncio.Future[RecordMetadata] | None:
    """``batch.append(key, value, None, create_future, headers=headers)``: the record
    appended to the batch (its future, resolved at the ack), or None when the batch is
    full (then closed, as aiokafka closes it).

    Straight to the batch's record builder (aiokafka's Cython one) with positional
    arguments, as ``fill_batch`` appends the relay's records, not through
    ``MessageBatch.append``'s and ``BatchBuilder.append``'s Python frames, keywords and
    ``_serialize`` a webhook request. The same batches and futures
    (``tests/unit/common/test_append_record.py``)."""
    builder = batch._builder
    if builder._key_serializer is not None or builder._value_serializer is not None:
        return batch.append(key, value, None, create_future, headers=headers)  # type: ignore[no-any-return]
    if builder._closed:
        return None
    metadata = builder._builder.append(
        builder._relative_offset, None, key, value, [] if headers is None else headers
    )
    if metadata is None:
        builder.close()
        return None
    builder._relative_offset += 1
    future = create_future()
    batch._msg_futures.append((future, metadata))
    return future


class LingerWindow:
    """Opens batches in aiokafka's accumulator so that the batches opened while one
    lingers are ready with it: one produce request per broker per linger, not one per
    partition's batch.

    aiokafka lingers each partition's batch on its own clock, and its sender drains
    only the batches whose own linger is up. At a steady rate nearly every record
    opens a batch in another partition (keys spread over the topic), so each went out
    in a produce request of its own, ~150 µs of CPU against ~30 µs per record in one
    (``libs/common/webhooks/producer.py``), and a longer linger only delayed it. Java's
    producer drains every partition of a broker once one of its batches is ready;
    this does the same from the append side: a batch opened while the window's first
    one lingers gets the linger that is left, so the sender's one wake-up finds them
    all ready. A record waits at most the linger, as before (most wait less), and is
    acknowledged only by the broker's ack, as before.

    The sender is woken once, when the window's linger is up, not at once as
    ``_append_batch`` does: with a linger that turn of the sender loop only schedules
    the real wake-up (a ``drain_by_nodes`` and an ``asyncio.wait`` over its waiters,
    for nothing). The sender still drains all it finds ready whenever it wakes.

    A window that holds ``full_at`` records is ready at once (``added``), as Java's
    producer sends a batch that reached ``batch.size`` before its linger is up. The
    linger is there to gather records that arrive one at a time (a steady few hundred
    a second); when they come faster the window fills first, and waiting out the rest
    of the linger only delays every answer: with a 20 ms linger, 64 webhook requests in
    flight were held to ~2,000 a second by the linger alone, the service at 70 % of a core.
    """

    def __init__(self, full_at: int = 16) -> None:
        self._accumulator: Any = None
        self._end = 0.0  # when the open window's batches are ready (time.monotonic)
        self._full_at = full_at
        self._batches: list[MessageBatch] = []  # the open window's
        self._records = 0  # appended while the window is open

    def open_batch(self, accumulator: Any, tp: TopicPartition) -> MessageBatch:
        """A new batch for ``tp``, as aiokafka's ``_append_batch`` makes it (no
        transactions here), ready at the end of the open window or opening one."""
        linger = accumulator._linger_time
        batch = loop_batch(
            tp, accumulator.create_builder(), accumulator._batch_ttl, linger, accumulator._loop
        )
        accumulator._batches[tp].append(batch)
        if linger <= 0:
            _wake_sender(accumulator)
            return batch
        created = batch._ctime  # aiokafka's clock for the linger (time.monotonic)
        if self._accumulator is accumulator and created < self._end:
            batch._linger_time = self._end - created
            self._batches.append(batch)
            return batch
        self._accumulator, self._end = accumulator, created + linger
        self._batches, self._records = [batch], 0
        accumulator._loop.call_later(linger, _wake_sender, accumulator)
        return batch

    def added(self, accumulator: Any) -> None:
        """A record was appended while this window may be open: at ``full_at`` records
        its batches are ready now (their linger ends) and the sender is woken; the next
        batch opens a new window."""
        if self._accumulator is not accumulator or not self._batches:
            return
        self._records += 1
        if self._records < self._full_at:
            return
        for batch in self._batches:
            batch._linger_time = 0.0  # aiokafka: ``remaining_linger`` None, i.e. ready
        self._batches, self._records, self._end = [], 0, 0.0
        _wake_sender(accumulator)


def loop_batch(
    tp: TopicPartition,
    builder: Any,
    ttl: float,
    linger_time: float,
    loop: asyncio.AbstractEventLoop,
) -> MessageBatch:
    """``MessageBatch(tp, builder, ttl, linger_time)``, its two futures made by ``loop``.

    aiokafka's ``__init__`` makes them with ``create_future()``, which asks
    ``asyncio.get_event_loop()``: in CPython 3.11 a ``getpid`` syscall each (its fork
    check), two a batch, about one a webhook request at 500/s (a new batch every other
    record). The same attributes with the same values otherwise
    (``tests/unit/common/test_linger_window.py`` holds them against aiokafka's).
    """
    batch = MessageBatch.__new__(MessageBatch)
    batch._builder = builder
    batch._tp = tp
    batch._ttl = ttl
    batch._linger_time = linger_time
    batch._ctime = message_accumulator.time.monotonic()  # aiokafka's clock, as its own
    batch.future = loop.create_future()
    batch._msg_futures = []
    batch._drain_waiter = loop.create_future()
    batch._retry_count = 0
    return batch


def _wake_sender(accumulator: Any) -> None:
    """Resolve what aiokafka's sender waits on for new data (its current waiter)."""
    waiter = accumulator._waiter_future
    if not waiter.done():
        waiter.set_result(None)


def _time_out(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class AckDeadlines:
    """Fails each record's future with ``TimeoutError`` at its deadline, if nothing
    resolved it before, with one loop timer for all the records waiting, not one each.

    A timer per record (``call_at``, then ``cancel`` once acked) cost ~3.3 µs of CPU
    (uvloop, timeit, load ~13) and a libuv timer handle made, started, stopped and
    closed, for a deadline that is nearly never reached. Every record waits the same
    ``send_timeout_s``, so deadlines come in the order records are added: they wait in
    a queue, and a single timer is set for the oldest pending one. When it fires, the
    records past their deadline fail and it is set again for the next pending one;
    acked records are dropped from the front as new ones come, so the queue holds
    about what is in flight.
    """

    #: A timer may fire up to this much before its time (libuv rounds to milliseconds):
    #: a deadline this close counts as reached rather than setting the timer again.
    EARLY_S = 0.001

    def __init__(self) -> None:
        self._waiting: deque[tuple[float, asyncio.Future[Any]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def add(
        self, loop: asyncio.AbstractEventLoop, deadline: float, future: asyncio.Future[Any]
    ) -> None:
        waiting = self._waiting
        while waiting and waiting[0][1].done():
            waiting.popleft()
        if waiting and deadline < waiting[-1][0]:
            # earlier than one queued (send_timeout_s was made shorter): a timer of its own
            loop.call_at(deadline, _time_out, future)
            return
        waiting.append((deadline, future))
        if self._timer is None or self._loop is not loop:  # none set (in this loop)
            self._loop = loop
            self._timer = loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        self._timer = None
        loop = self._loop
        assert loop is not None
        now = loop.time() + self.EARLY_S
        waiting = self._waiting
        while waiting:
            deadline, future = waiting[0]
            if future.done():
                waiting.popleft()
            elif deadline <= now:
                waiting.popleft()
                future.set_exception(TimeoutError())
            else:
                self._timer = loop.call_at(deadline, self._expire)
                return

    def release(self) -> None:
        """Drop the records already resolved and, when none waits any more, the timer
        (the producer stopped: no timer outlives what it bounds)."""
        waiting = self._waiting
        while waiting and waiting[0][1].done():
            waiting.popleft()
        if not any(not future.done() for _, future in waiting) and self._timer is not None:
            self._timer.cancel()
            self._timer = None
            waiting.clear()


class _BatchFailed(KafkaError):
    """Records of a ``send_many`` the broker refused, and the first refusal."""

    def __init__(self, failed: list[OutgoingRecord], cause: BaseException) -> None:
        super().__init__(repr(cause))
        self.failed = failed
        self.cause = cause


def _event_ids(records: Sequence[OutgoingRecord]) -> str:
    ids = [_ce_id(record.headers) for record in records[:_IDS_NAMED]]
    more = f" and {len(records) - _IDS_NAMED} more" if len(records) > _IDS_NAMED else ""
    return "event ids " + ", ".join(ids) + more


def _ce_id(headers: Headers) -> str:
    for name, value in headers:
        if name == "ce_id":
            return value.decode("utf-8", "replace")
    return "(no ce_id)"

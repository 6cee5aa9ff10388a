"""Outbox relay: publish committed routing events to ``support.routing.v1``.

Rows are published in id order, keyed by conversation id, with the row's
deterministic event id as ``ce_id``; they count as sent only after Kafka
acknowledged (SQLite marks them afterwards, in the next writing transaction:
``PublishedRows``; PostgreSQL marks them in the round's
transaction and commits it after the ack). Marking a row sent deletes its
``outbox_pending`` entry (the row itself is never rewritten). A crash between the ack and the mark's
commit re-publishes the same ``ce_id`` (consumers dedupe on it); nothing committed
is ever lost. On
PostgreSQL an advisory lock lets one replica relay at a time, keeping order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from operator import itemgetter
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from libs.common import metrics
from libs.common.cloudevents import CONTENT_TYPE, SPEC_VERSION, Headers, iso_time
from libs.common.kafka.partitioner import KeyPartitioner
from libs.common.kafka.produce_request import one_pass_requests
from libs.common.kafka.producer import PublishError, send_batches
from libs.common.kafka.record_batch import header_bytes, varint_bytes
from libs.common.settings import KafkaSettings
from services.router.store.outbox import (
    SENT_MARK_EVERY_S,
    CommittedOutbox,
    PendingEvent,
    PublishedRows,
    UnsentId,
    UnsentReader,
    lock_and_mark_unsent,
    mark_sent,
    record_sent_mark,
    rows_by_id,
)
from services.router.store.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)
RELAY_LOCK_KEY = 7226458
MAX_BATCH_BYTES = 1024 * 1024
#: Rows per round at most (bound parameters of the IN lists stay well below both
#: databases' limits).
MAX_ROUND = 10_000
#: SQLite: published rows are marked sent at most this often, in one write for all the
#: rounds since the last. A mark per round (one per routed poll) was a second write
#: transaction and fsync per poll, queued on the same write lock as the consumer's next
#: poll (16 ms a mark at 250/s, 73 ms at 1,000/s in ``bench.router_throughput --trace``).
#: Longer only means more rows re-published (same ``ce_id``) after a crash, and more
#: published-but-unmarked ids skipped by each round's read. 0.25 → 1 s: a mark costs
#: ~1.4 ms of CPU whatever it holds (``bench.relay_cost --size 10``, marks every round
#: vs every 10th: 38-58 vs 9-12 ms for 30 rounds, interleaved 3 each, load ~8), and the
#: pipeline made ~3 a second at 50-100 POSTs/s (``bench.router_poll_split``): ~2.9 ms
#: of CPU a second less.
MARK_INTERVAL_S = 1.0


#: Loop turns a round gives a unit of work that has committed rows it read to hand them
#: over (``OutboxRelay._handed_meanwhile``): the database thread's answer sets the
#: unit's future in one turn, its task resumes and hands over in the next.
HAND_OVER_TURNS = 3


#: a ``PendingEvent``'s ``ce_type``, by index: ``map`` over a round's rows in C
_CE_TYPE = itemgetter(PendingEvent._fields.index("ce_type"))
_EVENT_ID = itemgetter(PendingEvent._fields.index("event_id"))
_UNSENT_EVENT_ID = itemgetter(UnsentId._fields.index("event_id"))

_SPEC_VERSION = ("ce_specversion", SPEC_VERSION.encode())
_CONTENT_TYPE = ("content-type", CONTENT_TYPE.encode())
_HEADER_COUNT = 7
#: a row's headers as its record carries them (``record_batch.headers_bytes``), the parts
#: every row has: the count and the spec version, ``ce_id``'s name, the content type
_WRITTEN_START = varint_bytes(_HEADER_COUNT) + header_bytes(*_SPEC_VERSION)
_WRITTEN_ID_NAME = header_bytes("ce_id", b"")[:-1]  # the name; the value's length follows
_WRITTEN_CONTENT_TYPE = header_bytes(*_CONTENT_TYPE)


def record_headers(row: PendingEvent, source: str | bytes) -> Headers:
    """CloudEvents binary-mode headers of one row, exactly as ``cloudevents.encode``
    writes them (the relay keeps one ``RecordHeaders`` for all its rows)."""
    return RecordHeaders(source)(row)


class RecordHeaders:
    """CloudEvents binary-mode headers, exactly as ``cloudevents.encode`` writes them,
    of the rows of one source, with what rows share built once: the encoded source,
    ``ce_type`` per type, and ``ce_time`` while consecutive rows carry the same
    ``occurred_at`` object (the 2-3 events of one decision do): ~1 µs less a row (the
    relay builds ~2.2 rows an interaction)."""

    def __init__(self, source: str | bytes) -> None:
        self._source = ("ce_source", source.encode() if isinstance(source, str) else source)
        #: ce_type -> its header, and the bytes of the source's and its header
        self._types: dict[str, tuple[tuple[str, bytes], bytes]] = {}
        self._time: tuple[datetime | None, tuple[str, bytes], bytes] = (
            None,
            ("ce_time", b""),
            b"",
        )

    def __call__(self, row: PendingEvent) -> Headers:
        return self.records([row])[0][2]

    def records(self, rows: list[PendingEvent]) -> list[tuple[bytes, bytes, Headers]]:
        """The (key, value, headers) records of ``rows``, in order (``written_records``'s)."""
        return self.written_records(rows)[0]

    def written_records(
        self, rows: list[PendingEvent]
    ) -> tuple[list[tuple[bytes, bytes, Headers]], list[bytes]]:
        """The (key, value, headers) records of ``rows``, in order, and each one's headers
        as its record carries them (``record_batch.headers_bytes``: the relay's batches
        are written with them, ``send_batches``' ``written_headers``). The key is the
        conversation id, as ``ce_subject``, encoded once for both and for the rows that
        follow with the same conversation id object (a decision's 2-3 events), and so are
        the headers' bytes but the row's own ``ce_id``; in one loop without a call per
        row."""
        types = self._types
        source = self._source
        last_time, ce_time, time_bytes = self._time
        last_conversation: str | None = None
        key = b""
        subject = ("ce_subject", key)
        end_bytes = b""  # the content type's and the subject's
        start, id_name, content_type = _WRITTEN_START, _WRITTEN_ID_NAME, _WRITTEN_CONTENT_TYPE
        varint, join = varint_bytes, b"".join
        records = []
        written = []
        for row in rows:
            typed = types.get(row.ce_type)
            if typed is None:
                header = ("ce_type", row.ce_type.encode())
                typed = types[row.ce_type] = (header, header_bytes(*source) + header_bytes(*header))
            ce_type, type_bytes = typed
            occurred_at = row.occurred_at
            if occurred_at is not last_time:  # identity: equal instants may differ in offset
                # isoformat's text, from the seconds' text met lately (~1 a routed
                # interaction: 12.9 -> 8.3 K instructions, callgrind 400 - 200 times)
                ce_time = ("ce_time", iso_time(occurred_at).encode())
                time_bytes = header_bytes(*ce_time)
                last_time = occurred_at
            conversation_id = row.conversation_id
            if conversation_id is not last_conversation:  # identity: any str is equal to itself
                key = conversation_id.encode()
                subject = ("ce_subject", key)
                end_bytes = content_type + header_bytes(*subject)
                last_conversation = conversation_id
            event_id = row.event_id.encode()
            headers = [
                _SPEC_VERSION,
                ("ce_id", event_id),
                source,
                ce_type,
                ce_time,
                _CONTENT_TYPE,
                subject,
            ]
            records.append((key, row.payload.encode(), headers))
            written.append(
                join(
                    (
                        start,
                        id_name,
                        varint(len(event_id)),
                        event_id,
                        type_bytes,
                        time_bytes,
                        end_bytes,
                    )
                )
            )
        self._time = (last_time, ce_time, time_bytes)
        return records, written


class BatchPublisher:
    """Publishes many records per request: one aiokafka batch per partition.

    The relay's own idempotent producer (acks=all); keys are partitioned as Kafka's
    default (murmur2) partitioner does, the same as single sends, so a conversation's
    events stay on one partition and in outbox order — by ``KeyPartitioner``, which
    caches recent keys: aiokafka's pure-Python murmur2 per row was most of
    ``_publish``'s 0.31 s for 26,000 events in the backlog profile. No linger: a
    round hands over whole batches, and aiokafka would hold each one ``linger_ms``
    (``KAFKA_LINGER_MS``) waiting for records that never come. The round's produce
    request is started from the round's own turn of the loop (``send_ready``), not by
    aiokafka's sender task three turns later: while a poll is routed each turn waits for
    a slice of its CPU (``bench.relay_ack_turns``).
    """

    def __init__(self, settings: KafkaSettings, *, client_id: str = "router-relay") -> None:
        self._settings = settings
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._partitioner = KeyPartitioner()

    async def start(self) -> None:
        self._producer = one_pass_requests(
            AIOKafkaProducer(
                **self._settings.client_options(),
                client_id=self._client_id,
                enable_idempotence=True,
                acks="all",
                linger_ms=0,
                max_batch_size=MAX_BATCH_BYTES,
                max_request_size=4 * MAX_BATCH_BYTES,
            )
        )
        try:
            await self._producer.start()
        except Exception:
            await self._producer.stop()
            self._producer = None
            raise

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def publish(
        self,
        topic: str,
        records: list[tuple[bytes, bytes, Headers]],
        written_headers: list[bytes] | None = None,
    ) -> None:
        """``records``: (key, value, headers) in order; returns once all are acknowledged.
        ``written_headers``: each record's headers as it carries them
        (``RecordHeaders.written_records``): its batches are written with them."""
        producer = self._producer
        if producer is None:
            raise PublishError("relay producer is not started")
        try:
            async with asyncio.timeout(self._settings.send_timeout_s):
                await self._publish(producer, topic, records, written_headers)
        except (TimeoutError, KafkaError) as exc:
            metrics.PUBLISH_FAILURES.labels(topic).inc()
            raise PublishError(f"relay publish to {topic} not acknowledged: {exc!r}") from exc

    async def _publish(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        records: list[tuple[bytes, bytes, Headers]],
        written_headers: list[bytes] | None,
    ) -> None:
        sent = await send_batches(producer, self._partitioner, topic, records, written_headers)
        producer._sender.send_ready()  # the request from this turn, not three turns later
        await acknowledged([future for _, future in sent])

    async def restart(self) -> None:
        """A fresh producer: aiokafka's idempotent producer cannot go on after some errors."""
        await self.stop()
        await self.start()

    async def ready(self) -> bool:
        if self._producer is None:
            return False
        metadata = await self._producer.client.fetch_all_metadata()
        return bool(metadata.brokers())


class OutboxRelay:
    """Publishes the outbox in id order; each round reads the next unsent ids and event
    ids (the database says what is unsent and in which order), takes the payloads of the
    rows this process committed from ``committed`` (handed over by the unit of work) and
    reads only the others (a crash's leftovers, another replica's or process's rows)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        producer: BatchPublisher,
        *,
        topic: str,
        committed: CommittedOutbox | None = None,
        topics_by_type: dict[str, str] | None = None,
        source: str = "omnidesk/router",
        batch: int = 500,
        interval_s: float = 0.2,
        mark_interval_s: float = MARK_INTERVAL_S,
    ) -> None:
        self._uow = uow
        self._producer = producer
        self._topic = topic
        self.committed = committed if committed is not None else CommittedOutbox()
        #: Outbox rows that are not routing events (ContactErased → support.privacy.v1).
        self._topics_by_type = topics_by_type or {}
        self._headers = RecordHeaders(source)
        self._batch = batch
        self._interval = interval_s
        self._mark_interval = mark_interval_s
        #: SQLite: published rows not marked sent yet; the next writing unit of work
        #: marks them in its transaction, the mark loop those no unit took
        self.published = PublishedRows()
        if not uow.postgres:
            uow.published = self.published
        self._mark_wake = asyncio.Event()
        #: when this relay last recorded how far it had published (``record_sent_mark``),
        #: and up to which id
        self._sent_mark_at: datetime | None = None
        self._sent_mark_up_to = 0
        #: SQLite: the rounds' reads of what is unsent, on a connection kept open
        self._unsent = None if uow.postgres else UnsentReader(uow.engine)

    @property
    def wake(self) -> asyncio.Event:
        return self.committed.wake

    def notify(self) -> None:
        self.wake.set()

    def _round_limit(self) -> int:
        """``batch`` rows, or all the rows handed over (one round per routed poll)."""
        return min(max(self._batch, len(self.committed)), MAX_ROUND)

    async def publish_pending(self, limit: int | None = None) -> int:
        """One round: publish up to ``limit`` rows (default: a round's); returns how many
        were sent."""
        limit = limit or self._round_limit()
        if self._uow.postgres:
            return await self._publish_postgres(limit)
        # SQLite: read without the write lock and publish; the rows are marked sent by
        # the next writing unit of work (a routed poll) or ``mark_published`` in a short
        # write of its own (``PublishedRows``), so the next round need not wait for the
        # write lock (held by the poll being routed) before publishing.
        assert self._unsent is not None
        handed_before = self.committed.event_ids()  # all committed before the read
        read = await self._unsent.unsent_ids(limit=limit, excluding=self.published.unmarked)
        rows = await self._rows(self._rows_read_apart, read, handed_before, limit=limit)
        if not rows:
            return 0
        ids, published = zip(*rows, strict=True)  # (id, row) pairs: two tuples, in C
        await self._send_all(list(published))
        self.published.published(ids)
        self._mark_wake.set()
        self.committed.forget(map(_EVENT_ID, published))
        return len(rows)

    async def mark_published(self, *, stale_only: bool = False) -> int:
        """SQLite: mark what the rounds published and no unit of work marked yet, in one
        write (``stale_only``: what was waiting at the last such call already; the mark
        loop's). Writes the sent mark too when it is due (``_sent_mark_due``), also with
        no row to mark once units of work marked rows since the last one.

        Until marked those rows are unsent in the database (a crash re-publishes them,
        same ``ce_id``) and the rounds skip them."""
        published = self.published
        ids = published.take_stale() if stale_only else published.take()
        if not ids and published.marked_up_to <= self._sent_mark_up_to:
            return 0
        now = self._sent_mark_due()
        if not ids and now is None:
            return 0
        try:
            # the unit marks ``published``'s rows of now itself: ``ids`` are the ones taken
            async with self._uow() as uow:
                await mark_sent(uow.session, ids)
                if now is not None:
                    up_to = max([published.marked_up_to, *ids])
                    await record_sent_mark(uow.session, up_to, now)
                await uow.commit()
        except BaseException:
            published.put_back(ids)  # tried again by the next call
            raise
        published.marked(ids)
        if now is not None:
            self._sent_mark_at = now
            self._sent_mark_up_to = up_to
        return len(ids)

    def _sent_mark_due(self) -> datetime | None:
        """Now, if the last sent mark is ``SENT_MARK_EVERY_S`` old (or none was made)."""
        now = datetime.now(UTC)
        last = self._sent_mark_at
        if last is not None and (now - last).total_seconds() < SENT_MARK_EVERY_S:
            return None
        return now

    async def _publish_postgres(self, limit: int) -> int:
        """One relaying replica at a time (the lock) keeps the per-conversation order.
        The rows are marked sent in the round's transaction by the statement that takes
        the lock and reads them (``lock_and_mark_unsent``), and the mark is committed
        only once Kafka acknowledged them: after the ack only the commit is left."""
        async with self._uow() as uow:
            handed_before = self.committed.event_ids()  # all committed before the read
            read = await lock_and_mark_unsent(uow.session, lock_key=RELAY_LOCK_KEY, limit=limit)
            if read is None:
                return 0
            read_rows = partial(rows_by_id, uow.session, postgres=True)
            rows = await self._rows(read_rows, read, handed_before, limit=limit)
            if not rows:
                return 0
            now = self._sent_mark_due()
            if now is not None:  # committed with the round's mark, or rolled back with it
                await record_sent_mark(uow.session, max(id_ for id_, _ in rows), now)
            # raises if not acknowledged: the mark rolls back
            published = [row for _, row in rows]
            await self._send_all(published)
            await uow.commit()
        if now is not None:
            self._sent_mark_at = now
        self.committed.forget(map(_EVENT_ID, published))
        return len(rows)

    async def _rows_read_apart(self, ids: list[int]) -> dict[int, PendingEvent]:
        """SQLite: the whole rows ``ids`` (not handed over: rare), in a reader unit."""
        if not ids:
            return {}
        async with self._uow.reader() as uow:
            return await rows_by_id(uow.session, ids, postgres=False)

    async def close(self) -> None:
        """The connection the rounds read on (``run`` closes it when it ends)."""
        if self._unsent is not None:
            await self._unsent.close()

    async def _rows(
        self,
        read_rows: Callable[[list[int]], Awaitable[dict[int, PendingEvent]]],
        read: list[UnsentId],
        handed_before: set[str],
        *,
        limit: int,
    ) -> list[tuple[int, PendingEvent]]:
        """The unsent rows ``read`` (the next ``limit`` in id order, but the published,
        not yet marked: ``unsent_ids(excluding=...)``) as (database id, row), payloads
        from memory where handed (a handed row's own ``id`` is 0: the pair says it,
        which costs no ``_replace`` per row). ``handed_before``: the event ids handed
        over before the read; ``read_rows`` reads the rows not handed over."""
        if len(read) < limit:
            # every unsent row was read: a handed row not among them was already sent
            # (by another replica, or in a round that then failed to forget it)
            self.committed.forget(handed_before.difference(map(_UNSENT_EVENT_ID, read)))
        unsent = read[:limit]
        get = self.committed.get  # a bound dict.get: no Python call a row
        if unsent:
            # every row handed (a routed poll's round): the pairs made in C, no Python
            # loop a row (the read's ids are the table's primary keys: no repeats)
            ids, event_ids = zip(*unsent, strict=True)
            found = list(map(get, event_ids))
            if None not in found:
                return list(zip(ids, found, strict=True))
        handed = {id_: get(event_id) for id_, event_id in unsent}
        missing = [i for i, row in handed.items() if row is None]
        if missing:
            missing = await self._handed_meanwhile(unsent, handed)
        others = await read_rows(missing)
        rows = []
        for id_, row in handed.items():
            if row is None:
                row = others.get(id_)
                if row is None:  # sent and deleted by someone else meanwhile
                    continue
            rows.append((id_, row))
        return rows

    async def _handed_meanwhile(
        self, unsent: list[UnsentId], handed: dict[int, PendingEvent | None]
    ) -> list[int]:
        """The ids of ``unsent`` still not handed over after ``HAND_OVER_TURNS`` turns of
        the loop; ``handed`` gets the rows handed over meanwhile.

        A round that reads right after a unit of work's COMMIT, before that unit's task
        has resumed and handed its rows over (the database thread's answer takes a loop
        turn or two to get back to it), finds them unsent but not handed; reading them
        from the store instead (``read_rows``: a reader unit's statement, the payloads
        and times converted, ~10 µs a row) took 500-1,500 of every 8,800 rows routed in
        process (``bench.router_loop_callgrind --no-callgrind --count 4000``, SQLite),
        and those rows, published and forgotten before the hand-over, were then handed
        over and kept until a short round forgot them. A row read as unsent is committed,
        and the row handed over under its event id is the one committed: published as
        handed. Rows nobody hands over (a crash's, another replica's) cost the round
        these turns, then are read as before."""
        waiting = {u.id: u.event_id for u in unsent if handed[u.id] is None}
        committed = self.committed
        for _ in range(HAND_OVER_TURNS):
            await asyncio.sleep(0)
            for id_, event_id in list(waiting.items()):
                row = committed.get(event_id)
                if row is not None:
                    handed[id_] = row
                    del waiting[id_]
            if not waiting:
                break
        return list(waiting)

    async def _send_all(self, rows: list[PendingEvent]) -> None:
        # the types counted once, in C: they say the topics too (a routed poll's rows are
        # all routing events: one topic, no lookup and append a row)
        types = Counter(map(_CE_TYPE, rows))
        topics_by_type = self._topics_by_type
        if not rows:
            return
        if topics_by_type.keys().isdisjoint(types):
            by_topic = {self._topic: (rows, types)}
        else:
            grouped: dict[str, list[PendingEvent]] = {}
            for row in rows:  # order kept within each topic
                topic = topics_by_type.get(row.ce_type, self._topic)
                grouped.setdefault(topic, []).append(row)
            by_topic = {
                topic: (items, Counter(map(_CE_TYPE, items))) for topic, items in grouped.items()
            }
        for topic, (items, counts) in by_topic.items():
            records, written_headers = self._headers.written_records(items)
            await self._producer.publish(topic, records, written_headers)
            for ce_type, count in counts.items():
                metrics.EVENTS_PUBLISHED.labels(topic, ce_type).inc(count)

    async def _restart_producer(self) -> None:
        try:
            await self._producer.restart()
        except Exception as exc:  # Kafka still down: the next round tries again
            log.warning("outbox relay: producer restart failed: %r", exc)

    async def run(self, stop: asyncio.Event) -> None:
        if self._uow.postgres:  # marked inside the round, under the relay lock
            await self._publish_loop(stop)
            return
        published = asyncio.Event()  # the publishing loop is over: a last mark, then out
        marker = asyncio.create_task(self._mark_loop(published), name="router-relay-marks")
        try:
            await self._publish_loop(stop)
        finally:
            published.set()
            try:
                await marker
            finally:
                await self.close()

    async def _mark_loop(self, done: asyncio.Event) -> None:
        while not done.is_set():
            # no timeout: a mark is due only after a round published (it sets the wake)
            await _wait_any(done, self._mark_wake, None)
            self._mark_wake.clear()
            # the rounds of the next ``mark_interval`` are marked in the same write, the
            # rows no unit of work marked meanwhile (a routed poll marks them: PublishedRows)
            await _sleep_or_stop(done, self._mark_interval)
            if not await self._mark_logged(stale_only=True):
                await _sleep_or_stop(done, 1.0)
            if len(self.published):
                self._mark_wake.set()  # rows waiting (or put back): looked at again
        await self._mark_logged()  # what the last rounds published

    async def _mark_logged(self, *, stale_only: bool = False) -> bool:
        try:
            await self.mark_published(stale_only=stale_only)
        except Exception:  # the database is unreachable: the next call tries again
            log.exception("outbox relay: marking published rows failed; retrying")
            return False
        return True

    async def _publish_loop(self, stop: asyncio.Event) -> None:
        # the stop wakes the loop: its wait is on ``wake`` alone (``_wait_for_wake``)
        stopping = asyncio.create_task(_set_when(stop, self.wake), name="router-relay-stop")
        try:
            await self._publish_rounds(stop)
        finally:
            stopping.cancel()

    async def _publish_rounds(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # cleared before the round: a commit during the round wakes the next one
            self.wake.clear()
            limit = self._round_limit()
            try:
                sent = await self.publish_pending(limit)
            except PublishError as exc:
                log.warning("outbox relay: Kafka did not ack (%r); retrying", exc)
                sent = 0
                await _sleep_or_stop(stop, 1.0)
                await self._restart_producer()
            except Exception:  # e.g. the database is unreachable: retry, never die
                log.exception("outbox relay round failed; retrying")
                sent = 0
                await _sleep_or_stop(stop, 1.0)
            if sent >= limit:
                continue  # more may be waiting
            if self.wake.is_set():
                # handed over during the round: the next round at once, not after a
                # trip through the loop (behind a poll's next slice of CPU) to two waiters
                continue
            await _wait_for_wake(self.wake, self._interval)


async def acknowledged(futures: list[asyncio.Future[Any]]) -> None:
    """Until every future is done; raises the first failure in their order. Each is
    awaited in turn, not through ``asyncio.gather``: gather's callback per future and
    then its own future's resolve the waiting task a loop turn after the last ack, and
    while a poll is routed each turn waits for a slice of its CPU. The failures not
    raised are retrieved (no "exception was never retrieved" log), as gather does."""
    try:
        for future in futures:
            await future
    finally:
        for future in futures:
            future.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


async def _set_when(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()


async def _wait_for_wake(wake: asyncio.Event, seconds: float) -> None:
    """Until ``wake`` is set or ``seconds`` passed. The round's task awaits the event's
    own future: a commit's ``set`` resumes it at the loop's next turn, where waiting on
    two events through ``asyncio.wait`` (a task per event, then ``wait``'s callback)
    took three turns, each behind a slice of the next poll's CPU between its awaits."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float | None) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()

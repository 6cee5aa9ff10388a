"""Consumer runner: at-least-once with manual commits and a dead-letter topic.

- Offsets are committed only for records whose handler finished (or that
  were dead-lettered), once per batch, and for revoked partitions during a
  rebalance — so a crash or a stop mid-batch re-delivers exactly the
  unfinished records, and handlers are idempotent on the event id.
- A poll's commit runs while the next poll is fetched and handled: waiting
  for the group coordinator (several ms under load) after every poll held up
  the next one, which then grew. At most one commit is in flight; the next
  commit, a revocation and ``stop`` each wait for it first, so a revoked
  partition's offsets are on the broker before another member takes it.
- Commits are at most one per ``commit_interval_s`` (default ``COMMIT_INTERVAL_S``):
  polls finished in between are committed together by the next. The commit is off
  the records' path, so this adds no latency; it only widens what a crash
  re-delivers (handlers are idempotent on the event id). A commit per poll was a
  third of the broker's requests after the fetches at 500/s (the router's, the
  router's outcome consumer's and the notifier's: ~13 a second each); a stop and a
  revocation still commit everything finished at once. A crash re-delivers up to a
  second of finished polls.
- A failing handler is retried with backoff a bounded number of times, then
  the original bytes and headers go to the dead-letter topic with the error
  and the stage, and the consumer moves on.
- A record that cannot be decoded is dead-lettered at once: retrying does not
  fix bytes.
- An outage of what the handler depends on (``DependencyUnavailable``, or what
  ``is_outage`` recognises, e.g. the database refusing connections) is not the
  record's fault: the runner waits it out and retries the same record, without
  using up attempts and without dead-lettering, so an outage loses nothing.
- With a ``batch_handler`` a whole poll is handled at once (one transaction);
  if that fails for another reason the poll is handled record by record.
- ``sparse_topic``: a topic that carries few records (erasure requests, assistant
  events) has nothing to batch: its fetch is answered as soon as one record is
  there, else after ``SPARSE_FETCH_MAX_WAIT_MS``. With the shared settings (64 KB or
  20 ms) each such idle consumer sent the broker 50 fetches a second; in the 500/s
  pipeline three of them made about half of all requests the broker served.
- ``ignore_types``: CloudEvents types the handler has nothing to do with (read
  from the ``ce_type`` header) are committed without decoding their body — most
  of what a consumer of a shared topic reads may be such records. A record
  without the header, or of any other type, is decoded as before (a bad one is
  dead-lettered).
- ``skip_header``: a header (name, value) with which the producer marks records this
  handler has nothing to do with (the notifier's outcomes that concern no reply, for the
  router); such records are committed without decoding, like ``ignore_types``. A record
  without that header or with another value is decoded as before.
- ``between_polls``: called after each poll is handled (and after an empty one), when
  what the poll made is garbage and the next poll is not fetched yet: where a service
  runs work that would otherwise interrupt a poll (the router's memory upkeep).
- ``between_polls_patience_s``: the ``between_polls`` hook is put off while the next
  poll's records are already fetched (they would wait for it), after a poll that was not
  full (a consumer keeping up: a full poll is a backlog's, whose hook runs after it as
  before), up to this long after its last run (``between_polls_due``): it runs when a
  poll ends with nothing fetched yet, where the consumer would otherwise wait for the
  broker. The router's memory upkeep (a collection, 6-18 ms, once a second) ran between
  two polls of a 1,000/s stream whatever was waiting: the next poll's ~30 records each
  waited it out.
- ``fetch_max_wait_ms`` / ``fetch_min_bytes``: a consumer that is in no hurry (its
  records change nothing anyone waits for within a second) asks the broker less often
  than the shared settings (64 KB or 20 ms) make it. Each fetch round costs aiokafka
  ~0.6 ms of CPU (pure-Python request and response coding, the loop's wake-ups): a
  consumer on a trickle of records fetches 50 times a second, ~26 ms of CPU a second
  (``fetch_max_wait_ms=200``: 5 fetches, ~4 ms).
- No read-ahead: decoding the next poll while this one is handled (in a task of its
  own, at idle priority) was tried twice and removed (stop 36): on SQLite the decode
  held the GIL the database thread wanted back after each row (stop 33, 3a95b21: no
  run faster, more CPU an interaction); on PostgreSQL three interleaved idle pairs gave
  no gain in decisions/s and a worse p50 at 1,000/s (stop 35, e52692d), and its task
  and turns cost instructions every poll. Polls are taken, decoded and handled in turn.
- The fetched records are unpacked by ``libs.common.kafka.fetched_records`` (the same
  ``ConsumerRecord``s, without aiokafka's three Python frames a record), installed into
  aiokafka's fetcher when a runner starts.
- Idle fetch mode (``idle_fetch``, on by default): after a poll that found nothing the
  fetches ask for the first byte and wait up to half a second, until a poll returns
  records again (``libs.common.kafka.fetch_mode``): an idle consumer asks the broker
  twice a second whatever its usual limits, and sees the first record as soon as it is
  there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError

from libs.common import metrics
from libs.common.cloudevents import CloudEvent, CloudEventError, decode
from libs.common.events.base import utc_now
from libs.common.events.deadletter import DeadLetter
from libs.common.kafka import fetched_records
from libs.common.kafka.fetch_mode import FetchLimits, IdleFetchMode
from libs.common.kafka.producer import EventProducer, PublishError
from libs.common.logging import event_context
from libs.common.records import slot_constructor
from libs.common.settings import KafkaSettings

log = logging.getLogger(__name__)


class PermanentError(Exception):
    """Raised by a handler for input that will never succeed: no retries."""


class DependencyUnavailable(Exception):
    """Raised by a handler when what it needs (database, SMTP relay …) is down.

    Not the record's fault: the runner waits and retries the same record for as
    long as the outage lasts instead of dead-lettering it, so an outage delays
    work but loses none.
    """


NON_RETRYABLE = (PermanentError, CloudEventError, ValidationError)
OutagePredicate = Callable[[BaseException], bool]


#: ``sparse_topic``: the longest an idle fetch is held; a record arriving answers it at
#: once, so this costs no latency, only how often an idle consumer asks (2/s).
SPARSE_FETCH_MAX_WAIT_MS = 500


#: The least time between two offset commits of one runner (see the module doc).
#: 0.25 → 1 s: a commit costs the consumer's process ~0.69 ms of CPU (median of 3 runs
#: of 200, 654-729 µs, load ~8: ``bench.offset_commit_cost``) besides the broker's
#: work, and under a pipeline's steady flow each busy runner committed ~3 times a
#: second (``bench.router_poll_split``: the router's two, 3.0-3.4/s at 50-100 POSTs/s).
COMMIT_INTERVAL_S = 1.0


def _never(exc: BaseException) -> bool:
    return False


def between_polls_due(
    *, records_waiting: bool, poll_full: bool, since_last_s: float, patience_s: float | None
) -> bool:
    """Whether the ``between_polls`` hook runs now, after a poll: always without a
    patience; else unless the next poll's records are already fetched after a poll that
    was not full, and the hook ran less than ``patience_s`` ago."""
    if patience_s is None or poll_full or not records_waiting:
        return True
    return since_last_s >= patience_s


@dataclass(frozen=True, slots=True)
class Delivery:
    record: ConsumerRecord
    event: CloudEvent | None  # None when the runner was built with decode=False

    @property
    def event_id(self) -> str | None:
        return self.event.id if self.event else _header(self.record, "ce_id")


#: ``Delivery(record, event)`` without the frozen ``__init__``'s ``object.__setattr__`` a
#: field (``libs.common.records``): one a record of every poll
_delivery = slot_constructor(Delivery)

_new_delivery = object.__new__
_set_record = Delivery.record.__set__  # type: ignore[attr-defined]
_set_event = Delivery.event.__set__  # type: ignore[attr-defined]


def _decoded_deliveries(records: list[ConsumerRecord]) -> list[Delivery]:
    """``[_delivery(r, decode(r.headers, r.value)) for r in records]`` with ``_delivery``'s
    body inlined: no Python frame a record besides the decode's."""
    deliveries = []
    append = deliveries.append
    for record in records:
        event = decode(record.headers, record.value)
        delivery = _new_delivery(Delivery)
        _set_record(delivery, record)
        _set_event(delivery, event)
        append(delivery)
    return deliveries


Handler = Callable[[Delivery], Awaitable[None]]
#: Handles a whole poll at once (e.g. in one transaction); on an error other than an
#: outage the runner falls back to the per-record handler, which retries and dead-letters.
BatchHandler = Callable[[list[Delivery]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    max_outage_backoff_s: float = 10.0

    def backoff(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.initial_backoff_s * 2 ** (attempt - 1))

    def outage_backoff(self, waits: int) -> float:
        return min(self.max_outage_backoff_s, self.initial_backoff_s * 2**waits)


class ConsumerRunner:
    def __init__(
        self,
        settings: KafkaSettings,
        *,
        topics: list[str],
        group_id: str,
        stage: str,
        handler: Handler,
        producer: EventProducer,
        retry: RetryPolicy | None = None,
        decode_events: bool = True,
        max_batch: int = 500,
        client_id: str | None = None,
        batch_handler: BatchHandler | None = None,
        is_outage: OutagePredicate = _never,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        ignore_types: frozenset[str] = frozenset(),
        sparse_topic: bool = False,
        commit_interval_s: float = COMMIT_INTERVAL_S,
        max_partition_fetch_bytes: int | None = None,
        fetch_max_wait_ms: int | None = None,
        fetch_min_bytes: int | None = None,
        skip_header: tuple[str, bytes] | None = None,
        between_polls: Callable[[], object] | None = None,
        between_polls_patience_s: float | None = None,
        idle_fetch: bool = True,
    ) -> None:
        self._settings = settings
        self._topics = topics
        self._group_id = group_id
        self._stage = stage
        self._handler = handler
        self._producer = producer
        self._retry = retry or RetryPolicy()
        self._decode = decode_events
        self._max_batch = max_batch
        self._client_id = client_id or stage
        self._batch_handler = batch_handler
        self._is_outage = is_outage
        self._session_timeout_ms = session_timeout_ms
        self._heartbeat_interval_ms = heartbeat_interval_ms
        #: header name → the values that mark a record to commit undecoded: the ignored
        #: types (``ce_type``) and the producer's ``skip_header``, one check
        self._skipped: dict[str, frozenset[bytes]] = {}
        if ignore_types:
            self._skipped["ce_type"] = frozenset(t.encode() for t in ignore_types)
        if skip_header is not None:
            name, value = skip_header
            self._skipped[name] = self._skipped.get(name, frozenset()) | {value}
        self._sparse = sparse_topic
        self._commit_interval = commit_interval_s
        #: None: aiokafka's default (1 MiB); fetched records are held until polled
        self._max_partition_fetch_bytes = max_partition_fetch_bytes
        #: None: the shared settings' (``KafkaSettings``)
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._fetch_min_bytes = fetch_min_bytes
        self._between_polls = between_polls
        self._between_polls_patience = between_polls_patience_s
        self._between_polls_ran = 0.0  # time.monotonic() of the hook's last run
        self._idle_fetch = idle_fetch and not sparse_topic  # a sparse topic's fetch is idle's
        self.fetch_mode: IdleFetchMode | None = None  # set once the consumer runs
        self._next_commit = 0.0  # time.monotonic() from which the next commit may start
        self._outage_waits = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._done: dict[TopicPartition, int] = {}  # next offset to commit, per partition
        self._lock = asyncio.Lock()  # held while a batch runs; rebalance waits for it
        self._committing: asyncio.Task[None] | None = None  # the last poll's commit, if running
        self._stop = asyncio.Event()
        self.started = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Consume until ``stop()`` is called or ``stop`` is set."""
        watcher = asyncio.create_task(self._watch(stop)) if stop else None
        fetched_records.install()  # the fetched records without aiokafka's frames a record
        self._consumer = AIOKafkaConsumer(
            *self._topics,
            **self._settings.client_options(),
            group_id=self._group_id,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=self._heartbeat_interval_ms,
            **self._fetch_options(),
        )
        self._consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
        await self._consumer.start()
        if self._idle_fetch:
            options = self._fetch_options()
            self.fetch_mode = IdleFetchMode(
                getattr(self._consumer, "_fetcher", None),
                FetchLimits(options["fetch_min_bytes"], options["fetch_max_wait_ms"]),
                name=self._group_id,
            )
        self.started.set()
        log.info("consumer %s started on %s", self._group_id, ",".join(self._topics))
        try:
            while not self._stop.is_set():
                batch = await self._poll()
                if self.fetch_mode is not None:
                    self.fetch_mode.after_poll(bool(batch))
                if batch:
                    # getmany hands over buffered records without yielding. Let what is
                    # ready run first: aiokafka's fetcher, just told to request the next
                    # records, and tasks the last poll woke (the router's relay, handed
                    # that poll's rows on commit), before this poll is decoded and
                    # handled (17-50 ms of a poll under load, bench.router_throughput
                    # --trace).
                    await asyncio.sleep(0)
                    async with self._lock:
                        await self._process(batch)
                if self._between_polls is not None and self._between_polls_now(batch):
                    self._run_between_polls()
                # after an empty poll too: what the last polls finished is committed
                if self._done and time.monotonic() >= self._next_commit:
                    # Outside the lock: a rebalance waiting on it may need the coordinator.
                    await self._commit_settled()
                    async with self._lock:
                        # Under the lock, so no revocation runs between awaiting the last
                        # commit and starting this one: a revocation awaits this one instead.
                        self._committing = asyncio.create_task(self._commit())
                        self._next_commit = time.monotonic() + self._commit_interval
        finally:
            await self._commit_settled()
            await self._commit()
            await self._consumer.stop()
            if watcher:
                watcher.cancel()
            log.info("consumer %s stopped", self._group_id)

    def _between_polls_now(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> bool:
        """``between_polls_due`` for the poll just handled; its run counted from now."""
        now = time.monotonic()
        due = between_polls_due(
            records_waiting=self._records_waiting(),
            poll_full=sum(map(len, batch.values())) >= self._max_batch,
            since_last_s=now - self._between_polls_ran,
            patience_s=self._between_polls_patience,
        )
        if due:
            self._between_polls_ran = now
        return due

    def _records_waiting(self) -> bool:
        """The next poll's records are fetched already (aiokafka's fetcher holds them:
        ``getmany`` would return at once). False where this aiokafka keeps them elsewhere:
        the hook then runs after every poll, as without a patience."""
        fetcher = getattr(self._consumer, "_fetcher", None)
        return bool(getattr(fetcher, "_records", None))

    def _run_between_polls(self) -> None:
        """The ``between_polls`` hook: the last poll's objects are garbage now and the
        next poll's not made yet. A failing hook is logged; the consumer goes on."""
        assert self._between_polls is not None
        try:
            self._between_polls()
        except Exception:
            log.exception("consumer %s: between-polls hook failed", self._group_id)

    def _fetch_options(self) -> dict[str, int]:
        limit = {}
        if self._max_partition_fetch_bytes is not None:
            limit = {"max_partition_fetch_bytes": self._max_partition_fetch_bytes}
        if self._sparse:
            return {"fetch_min_bytes": 1, "fetch_max_wait_ms": SPARSE_FETCH_MAX_WAIT_MS, **limit}
        min_bytes, max_wait = self._fetch_min_bytes, self._fetch_max_wait_ms
        return {
            "fetch_min_bytes": self._settings.fetch_min_bytes if min_bytes is None else min_bytes,
            "fetch_max_wait_ms": self._settings.fetch_max_wait_ms if max_wait is None else max_wait,
            **limit,
        }

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.stop()

    async def _poll(self) -> dict[TopicPartition, list[ConsumerRecord]]:
        assert self._consumer is not None
        try:
            return await self._consumer.getmany(timeout_ms=500, max_records=self._max_batch)
        except KafkaError as exc:
            log.warning("consumer %s poll failed: %r; backing off", self._group_id, exc)
            await asyncio.sleep(1.0)
            return {}

    def _deliveries(self, records: list[ConsumerRecord]) -> list[Delivery]:
        """The records' deliveries, decoded, but the ignored ones (``_is_ignored``)."""
        if not self._decode:
            return [_delivery(r, None) for r in records if not self._is_ignored(r)]
        if self._skipped:
            return [
                _delivery(r, decode(r.headers, r.value)) for r in records if not self._is_ignored(r)
            ]
        # nothing to skip (the router's interactions): no ``_is_ignored`` call a record
        return _decoded_deliveries(records)

    async def _process(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        if self._batch_handler is not None and await self._process_as_batch(batch):
            return
        await asyncio.gather(*(self._process_partition(tp, recs) for tp, recs in batch.items()))

    async def _process_as_batch(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> bool:
        """True when the batch is finished (or the runner stops); False: go record by record."""
        assert self._batch_handler is not None
        try:
            deliveries = [
                delivery for records in batch.values() for delivery in self._deliveries(records)
            ]
        except NON_RETRYABLE:
            return False  # the per-record path dead-letters the bad record, handles the rest
        ignored = sum(map(len, batch.values())) - len(deliveries)
        started = time.perf_counter()
        while not self._stop.is_set():
            try:
                if deliveries:
                    await self._batch_handler(deliveries)
            except Exception as exc:
                if self._is_outage_error(exc):
                    await self._wait_out_outage(exc, f"batch of {len(deliveries)}")
                    continue
                log.warning(
                    "%s: batch of %d failed (%r); one by one", self._stage, len(deliveries), exc
                )
                return False
            self._outage_waits = 0
            for tp, records in batch.items():
                self._done[tp] = records[-1].offset + 1
            metrics.EVENTS_CONSUMED.labels(self._stage, "ok").inc(len(deliveries))
            if ignored:
                metrics.EVENTS_CONSUMED.labels(self._stage, "ignored").inc(ignored)
            metrics.HANDLE_SECONDS.labels(self._stage).observe(time.perf_counter() - started)
            return True
        return True  # stopping: nothing marked done, the whole batch is redelivered

    def _is_outage_error(self, exc: BaseException) -> bool:
        return isinstance(exc, DependencyUnavailable) or self._is_outage(exc)

    async def _wait_out_outage(self, exc: BaseException, what: str) -> None:
        delay = self._retry.outage_backoff(self._outage_waits)
        self._outage_waits += 1
        metrics.HANDLER_RETRIES.labels(self._stage).inc()
        log.warning(
            "%s: dependency unavailable while handling %s (%s: %s); waiting %.1fs",
            self._stage,
            what,
            type(exc).__name__,
            str(exc)[:200],
            delay,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    async def _process_partition(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        for record in records:
            if self._stop.is_set():
                return  # unfinished records stay uncommitted and are redelivered
            if self._is_ignored(record):
                metrics.EVENTS_CONSUMED.labels(self._stage, "ignored").inc()
            elif not await self._handle_one(record):
                return
            self._done[tp] = record.offset + 1

    def _is_ignored(self, record: ConsumerRecord) -> bool:
        """Of an ignored type, or marked with ``skip_header`` (see the module doc)."""
        if not self._skipped:
            return False
        for key, value in record.headers or ():
            values = self._skipped.get(key)
            if values is not None and value in values:
                return True
        return False

    async def _handle_one(self, record: ConsumerRecord) -> bool:
        """True once the record is finished: handled or dead-lettered."""
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            try:
                delivery = Delivery(
                    record, decode(record.headers, record.value) if self._decode else None
                )
                with event_context(delivery.event_id):
                    await self._handler(delivery)
            except NON_RETRYABLE as exc:
                return await self._dead_letter(record, exc, attempt)
            except Exception as exc:
                if self._is_outage_error(exc):
                    attempt -= 1  # the record is not at fault: no attempt is used up
                    await self._wait_out_outage(exc, _where(record))
                    if self._stop.is_set():
                        return False
                    continue
                if attempt >= self._retry.max_attempts:
                    return await self._dead_letter(record, exc, attempt)
                metrics.HANDLER_RETRIES.labels(self._stage).inc()
                log.warning(
                    "%s: attempt %d for %s failed: %r",
                    self._stage,
                    attempt,
                    _where(record),
                    exc,
                    extra={"event_id": _header(record, "ce_id")},
                )
                await asyncio.sleep(self._retry.backoff(attempt))
                if self._stop.is_set():
                    return False
            else:
                self._outage_waits = 0
                metrics.EVENTS_CONSUMED.labels(self._stage, "ok").inc()
                metrics.HANDLE_SECONDS.labels(self._stage).observe(time.perf_counter() - started)
                return True

    async def _dead_letter(self, record: ConsumerRecord, exc: BaseException, attempts: int) -> bool:
        letter = DeadLetter(
            stage=self._stage,
            error_type=type(exc).__name__,
            error=str(exc)[:2000],
            attempts=attempts,
            failed_at=utc_now(),
            original_topic=record.topic,
            original_partition=record.partition,
            original_offset=record.offset,
        )
        headers = [*(record.headers or ()), *letter.to_headers()]
        backoff = 0.5
        while True:
            try:
                await self._producer.send(
                    self._settings.topics.deadletter, record.value, key=record.key, headers=headers
                )
                break
            except PublishError as pub_exc:
                # Without the dead letter the record must not be committed: wait for Kafka.
                log.error("%s: dead-letter publish failed: %r", self._stage, pub_exc)
                if self._stop.is_set():
                    return False
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        metrics.DEAD_LETTERS.labels(self._stage).inc()
        metrics.EVENTS_CONSUMED.labels(self._stage, "dead_lettered").inc()
        log.error(
            "%s: %s dead-lettered after %d attempt(s): %s: %s",
            self._stage,
            _where(record),
            attempts,
            type(exc).__name__,
            str(exc)[:300],
            extra={"event_id": _header(record, "ce_id")},
        )
        return True

    async def _commit(self, only: set[TopicPartition] | None = None) -> None:
        if self._consumer is None:
            return
        offsets = {tp: off for tp, off in self._done.items() if only is None or tp in only}
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The records will be redelivered; handlers are idempotent on the event id.
            log.warning("consumer %s commit failed: %r", self._group_id, exc)
        for tp in offsets:
            if self._done.get(tp) == offsets[tp]:
                del self._done[tp]

    async def _commit_settled(self) -> None:
        """Wait for the commit in flight, if any; ``_commit`` logs a failed one.

        Shielded: cancelling the runner does not cancel a commit half-way, and
        ``run``'s ``finally`` waits for it before its own last commit.
        """
        task = self._committing
        if task is None:
            return
        try:
            await asyncio.shield(task)
        finally:
            if task.done() and self._committing is task:
                self._committing = None

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._lock:
            await self._commit_settled()
            await self._commit(only=set(revoked))
            for tp in revoked:
                self._done.pop(tp, None)


class _CommitOnRevoke(ConsumerRebalanceListener):
    def __init__(self, runner: ConsumerRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._runner.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        return None


def _header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode("utf-8", "replace")
    return None


def _where(record: ConsumerRecord) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"

"""``python -m bench.router_trace``: the router (as ``python -m services.router``) with a
per-record timeline, for ``bench.router_throughput --trace``.

Where an interaction's time goes between the bench's producer and the bench's reader:
the moments it was fetched by the router's consumer, its poll's routing began and
ended (decided, committed, handed to the relay), the relay round that took it began,
that round's publish began (after reading the database) and Kafka acknowledged it.
Each is ``time.perf_counter()`` (CLOCK_MONOTONIC on Linux, one clock for every process
on the machine, so the bench's own stamps compare with these). Written as JSON to
``ROUTER_TRACE_FILE`` when the router stops.

On SQLite each hop to aiosqlite's thread is a round trip too (``_wrap_aiosqlite``): its
wall time split into the function's own run in the thread (of which CPU, and runnable but
waiting for a CPU, from ``/proc/thread-self/schedstat``: the rest of it is blocked on
I/O, fsync or the GIL), the wait before it and the wait for the loop to resume the task
after it; and the unit of work's in-process write lock's waits (``WRITE LOCK``), by
task: the poll's, the relay round's, the relay's mark (``mark``) or another.

The garbage collector's runs on the loop's thread (``gc.callbacks``) are listed with their
pauses, the memory upkeep's apart.

A diagnostic only: it wraps methods of the router's classes in this process (the
router's code is unchanged); the cost is a dict write per record per hop, one
regular-expression match per published routing event, and two reads of schedstat per
SQLite hop. ``ROUTER_TRACE_SWITCH_INTERVAL_S`` sets ``sys.setswitchinterval`` (an
experiment: at 0.5 ms against the default 5 ms the hops' wall time was unchanged, load
~7, so the GIL hand-over is not what they wait for). ``ROUTER_TRACE_UPKEEP_PATIENCE_S``
sets the interactions consumer's ``UPKEEP_PATIENCE_S`` (``none``: the memory upkeep after
every poll, as before stop 39), for pairs with and without it.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import signal
import sys
import time
from collections import defaultdict
from typing import Any

import asyncpg
from asyncpg.prepared_stmt import PreparedStatement

from libs.common.events.routing import InteractionRouted
from libs.common.kafka.consumer import ConsumerRunner
from services.router import consumer as router_consumer
from services.router import relay as router_relay
from services.router.store.outbox import CommittedOutbox

#: interaction event id -> {hop: perf_counter()}
TIMELINE: dict[str, dict[str, float]] = defaultdict(dict)
#: per poll of the interactions consumer: when, records, milliseconds routing
POLLS: list[dict[str, float]] = []
#: the interactions consumer's Kafka offset commits after each poll (when, milliseconds)
COMMITS: list[dict[str, float]] = []
#: SQLite: the relay's writes marking published rows sent (when, rows, milliseconds)
MARKS: list[dict[str, float]] = []
#: the relay's rounds that published something (when, rows, milliseconds from the round's
#: beginning to its end: on PostgreSQL the lock and read, the publish, the mark and commit)
ROUNDS: list[dict[str, float]] = []
#: the relay's publishes (when each began, its produce request was built and written, the
#: broker's answer was read off the socket, aiokafka's sender handled it, the relay resumed
#: with every ack): publish_began -> acked split into the loop's turns and the broker's
PUBLISHES: list[dict[str, float]] = []
#: the relay producer's last request built / frame read / response handled (one request
#: in flight per broker: after a publish's acks, the last of each are its own)
_RELAY_PRODUCE: dict[str, float] = {}
RELAY_CLIENT_ID = "router-relay"
#: the garbage collector's runs on the event loop's thread (when, generation, milliseconds):
#: automatic ones during a poll and the memory upkeep's between polls (``upkeep``: true)
COLLECTIONS: list[dict[str, Any]] = []
#: the interactions consumer (``ConsumerRunner``), once it polled
_INTERACTIONS: dict[str, ConsumerRunner] = {}
#: PostgreSQL: every round trip to the server through asyncpg (when, who: "poll" / "relay"
#: / "other", statement's first words, milliseconds waited for the answer)
ROUND_TRIPS: list[dict[str, Any]] = []
#: which of the router's tasks is sending: the poll's, the relay round's, or another
_SCOPE: contextvars.ContextVar[str] = contextvars.ContextVar("scope", default="other")
_INTERACTION_ID = re.compile(rb'"interaction_id"\s*:\s*"([^"]+)"')
_ROUTED = InteractionRouted.ce_type
_ROUTED_BYTES = _ROUTED.encode()


def _stamp(event_id: str, hop: str, at: float) -> None:
    TIMELINE[event_id].setdefault(hop, at)


def _records_waiting() -> bool:
    """The interactions consumer's fetcher holds records (its next poll); False before
    it polled."""
    runner = _INTERACTIONS.get("runner")
    fetcher = getattr(getattr(runner, "_consumer", None), "_fetcher", None)
    return bool(getattr(fetcher, "_records", None))


def _wrap_poll() -> None:
    original = ConsumerRunner._poll
    patience = os.environ.get("ROUTER_TRACE_UPKEEP_PATIENCE_S")
    if patience is not None:  # an experiment: "none" runs the upkeep after every poll
        router_consumer.UPKEEP_PATIENCE_S = None if patience == "none" else float(patience)  # type: ignore[assignment]

    async def _poll(self: ConsumerRunner) -> Any:
        batch = await original(self)
        now = time.perf_counter()
        if self._stage == router_consumer.STAGE:
            _INTERACTIONS["runner"] = self
            for records in batch.values():
                for record in records:
                    for key, value in record.headers or ():
                        if key == "ce_id":
                            _stamp(value.decode(), "fetched", now)
                            break
        return batch

    ConsumerRunner._poll = _poll  # type: ignore[method-assign]
    original_commit = ConsumerRunner._commit

    async def _commit(self: ConsumerRunner, only: Any = None) -> None:
        began = time.perf_counter()
        await original_commit(self, only)
        if self._stage == router_consumer.STAGE and only is None:
            COMMITS.append({"began": began, "ms": (time.perf_counter() - began) * 1000})

    ConsumerRunner._commit = _commit  # type: ignore[method-assign]


def _wrap_batch_handler() -> None:
    original = router_consumer.BatchHandler.__call__

    async def __call__(self: Any, deliveries: list[Any]) -> None:
        on_cpu, runnable = _schedstat()
        began, cpu = time.perf_counter(), time.thread_time()
        scope = _SCOPE.set("poll")
        try:
            await original(self, deliveries)
        finally:
            _SCOPE.reset(scope)
        ended, cpu = time.perf_counter(), time.thread_time() - cpu
        on_cpu_end, runnable_end = _schedstat()
        POLLS.append(
            {
                "began": began,
                "records": len(deliveries),
                "ms": (ended - began) * 1000,
                # the event loop's CPU meanwhile (this poll's and any task run between its
                # awaits): wall time minus this is waiting (I/O, fsync, locks, other processes)
                "loop_cpu_ms": cpu * 1000,
                # the loop's thread at the poll's start (schedstat, seconds): on a CPU and
                # runnable but queued for one so far; between two polls' starts the rest of
                # the wall time it slept (waiting for the database, Kafka, nothing to do)
                "thread_on_cpu_s": on_cpu,
                "thread_runnable_s": runnable,
                # of the handler's wall time: asleep (neither on a CPU nor queued for one)
                "asleep_ms": (ended - began - (on_cpu_end - on_cpu) - (runnable_end - runnable))
                * 1000,
            }
        )
        for delivery in deliveries:
            if delivery.event is not None:
                _stamp(delivery.event.id, "routing_began", began)
                _stamp(delivery.event.id, "routed", ended)

    router_consumer.BatchHandler.__call__ = __call__  # type: ignore[method-assign]


def _wrap_hand_over() -> None:
    original = CommittedOutbox.hand_over

    def hand_over(self: CommittedOutbox, rows: Any) -> None:
        rows = list(rows)
        now = time.perf_counter()
        for row in rows:
            if row["ce_type"] == _ROUTED:
                found = _INTERACTION_ID.search(str(row["payload"]).encode())
                if found:
                    _stamp(found.group(1).decode(), "handed_over", now)
        original(self, rows)

    CommittedOutbox.hand_over = hand_over  # type: ignore[method-assign]


def _wrap_relay() -> None:
    round_began: list[float] = [0.0]
    original_round = router_relay.OutboxRelay.publish_pending
    original_publish = router_relay.BatchPublisher.publish

    async def publish_pending(self: Any, limit: int | None = None) -> int:
        began = round_began[0] = time.perf_counter()
        scope = _SCOPE.set("relay")
        try:
            sent = await original_round(self, limit)
        finally:
            _SCOPE.reset(scope)
        if sent:
            ms = (time.perf_counter() - began) * 1000
            ROUNDS.append({"began": began, "rows": sent, "ms": ms})
        return sent

    async def publish(
        self: Any, topic: str, records: list[Any], written_headers: list[bytes] | None = None
    ) -> None:
        began = time.perf_counter()
        _RELAY_PRODUCE.clear()
        await original_publish(self, topic, records, written_headers)
        acked = time.perf_counter()
        if len(_RELAY_PRODUCE) == 3:
            PUBLISHES.append({"began": began, **_RELAY_PRODUCE, "acked": acked})
        for _key, value, headers in records:
            if ("ce_type", _ROUTED_BYTES) in headers:
                found = _INTERACTION_ID.search(value)
                if found:
                    interaction_id = found.group(1).decode()
                    _stamp(interaction_id, "round_began", round_began[0])
                    _stamp(interaction_id, "publish_began", began)
                    _stamp(interaction_id, "acked", acked)

    original_mark = router_relay.OutboxRelay.mark_published

    async def mark_published(self: Any, **options: Any) -> int:
        began = time.perf_counter()
        scope = _SCOPE.set("mark")
        try:
            marked = await original_mark(self, **options)  # the mark loop's stale_only
        finally:
            _SCOPE.reset(scope)
        if marked:
            ms = (time.perf_counter() - began) * 1000
            MARKS.append({"began": began, "rows": marked, "ms": ms})
        return marked

    router_relay.OutboxRelay.mark_published = mark_published  # type: ignore[method-assign]
    router_relay.OutboxRelay.publish_pending = publish_pending  # type: ignore[method-assign]
    router_relay.BatchPublisher.publish = publish  # type: ignore[method-assign]


def _wrap_relay_producer() -> None:
    """The relay producer's produce requests: when each was built (then written at once,
    the sender's task having woken), its answer's frame read by the connection's reader
    task, and the answer handled by the sender's task (its batches' futures resolved)."""
    from aiokafka.conn import AIOKafkaConnection

    from libs.common.kafka import produce_request

    handler = produce_request._OnePassProduceHandler
    original_create = handler.create_request
    original_handle = handler.handle_response
    original_frame = AIOKafkaConnection._handle_frame

    def create_request(self: Any) -> Any:
        request = original_create(self)
        if self._sender.client._client_id == RELAY_CLIENT_ID:
            # the first call: ``do`` asks again for a request ``write_now`` wrote
            _RELAY_PRODUCE.setdefault("built", time.perf_counter())
        return request

    def handle_response(self: Any, response: Any) -> Any:
        if self._sender.client._client_id == RELAY_CLIENT_ID:
            _RELAY_PRODUCE["handled"] = time.perf_counter()
        return original_handle(self, response)

    def _handle_frame(self: Any, response: Any) -> Any:
        if self._client_id == RELAY_CLIENT_ID:
            _RELAY_PRODUCE["read"] = time.perf_counter()
        return original_frame(self, response)

    handler.create_request = create_request  # type: ignore[method-assign]
    handler.handle_response = handle_response  # type: ignore[method-assign]
    AIOKafkaConnection._handle_frame = _handle_frame  # type: ignore[method-assign]


def _watch_collections() -> None:
    """Each collection's pause from ``gc.callbacks`` (the loop's thread only: the database
    thread's collections hold the GIL too, and show as the loop's waits), and whether the
    memory upkeep ran it."""
    import gc
    import threading

    from libs.common.memory import MemoryUpkeep

    main_thread = threading.get_ident()
    started: list[float] = []
    in_upkeep = [False]

    def callback(phase: str, info: dict[str, int]) -> None:
        if threading.get_ident() != main_thread:
            return
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            began = started.pop()
            COLLECTIONS.append(
                {
                    "began": began,
                    "generation": info["generation"],
                    "ms": (time.perf_counter() - began) * 1000,
                    "upkeep": in_upkeep[0],
                }
            )

    gc.callbacks.append(callback)
    original = MemoryUpkeep.run_if_due

    def run_if_due(self: MemoryUpkeep) -> bool:
        in_upkeep[0] = True
        ran_before = len(COLLECTIONS)
        try:
            return original(self)
        finally:
            in_upkeep[0] = False
            # whether the interactions consumer's next poll was fetched already: its
            # records waited for this collection
            waiting = _records_waiting()
            for collection in COLLECTIONS[ran_before:]:
                collection["records_waiting"] = waiting

    MemoryUpkeep.run_if_due = run_if_due  # type: ignore[method-assign]


def _statement_label(query: object) -> str:
    return " ".join(str(query).split())[:48]


def _timed(original: Any, label_of: Any) -> Any:
    async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return await original(self, *args, **kwargs)
        finally:
            ms = (time.perf_counter() - began) * 1000
            label = label_of(self, args)
            ROUND_TRIPS.append({"began": began, "scope": _SCOPE.get(), "sql": label, "ms": ms})

    return timed


def _wrap_asyncpg() -> None:
    """Each call below is one round trip to the server (a prepare, a bind+execute, a simple
    query such as BEGIN/COMMIT, an executemany's pipelined batch), a COPY two (the server
    answers the COPY command before the data is sent); ``fetch`` and ``execute`` with
    arguments go through ``_execute`` (not wrapped: counted once)."""
    connection = asyncpg.connection.Connection

    def first(_self: Any, args: tuple[Any, ...]) -> str:
        return _statement_label(args[0]) if args else "?"

    connection.execute = _timed(connection.execute, first)  # type: ignore[method-assign]
    connection.fetch = _timed(connection.fetch, first)  # type: ignore[method-assign]
    connection.fetchrow = _timed(connection.fetchrow, first)  # type: ignore[method-assign]
    connection.executemany = _timed(connection.executemany, first)  # type: ignore[method-assign]
    # the public prepare (SQLAlchemy's adapter: a statement not in its cache); asyncpg's
    # own cached preparations (COPY's column introspection, fetch) cost no round trip
    connection.prepare = _timed(  # type: ignore[method-assign]
        connection.prepare, lambda s, a: "PREPARE " + first(s, a)
    )
    connection.copy_records_to_table = _timed(  # type: ignore[method-assign]
        connection.copy_records_to_table, lambda s, a: "COPY " + first(s, a)
    )

    def query_of(statement: Any, _args: tuple[Any, ...]) -> str:
        return _statement_label(statement.get_query())

    PreparedStatement.fetch = _timed(PreparedStatement.fetch, query_of)  # type: ignore[method-assign]


def _hop_label(fn: Any, args: tuple[Any, ...]) -> str:
    inner = getattr(fn, "func", fn)
    bound = getattr(fn, "args", ())
    if bound and isinstance(bound[0], str):  # sqlite_driver._statement(sql, ...)
        return _statement_label(bound[0])
    return getattr(inner, "__qualname__", repr(inner))[:48]


def _schedstat() -> tuple[float, float]:
    """This thread's CPU time and time spent runnable but waiting for a CPU (the kernel's
    run queue), in seconds: the rest of a wall interval is blocked (I/O, fsync, a lock,
    the GIL)."""
    with open("/proc/thread-self/schedstat") as stat:
        on_cpu, waiting, _slices = stat.read().split()
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def _wrap_aiosqlite() -> None:
    """SQLite: each hop to aiosqlite's thread (``Connection._execute``) as a round trip:
    its wall time, and apart from it the function's own run in the thread (``exec_ms``)
    and the wait for the loop to resume the awaiting task after it (``resume_ms``: the
    loop busy with other tasks, or the main thread waiting for a CPU or the GIL). The
    unit of work's in-process write lock's waits go in as ``WRITE LOCK``."""
    import aiosqlite

    from services.router.store.unit_of_work import UnitOfWork

    original = aiosqlite.Connection._execute

    async def _execute(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        ran: list[float] = []

        def timed(*a: Any, **k: Any) -> Any:
            cpu, queued = _schedstat()
            ran.append(time.perf_counter())
            try:
                return fn(*a, **k)
            finally:
                ran.append(time.perf_counter())
                cpu_after, queued_after = _schedstat()
                ran.append(cpu_after - cpu)
                ran.append(queued_after - queued)

        began = time.perf_counter()
        try:
            return await original(self, timed, *args, **kwargs)
        finally:
            ended = time.perf_counter()
            trip = {"began": began, "scope": _SCOPE.get(), "sql": _hop_label(fn, args)}
            trip["ms"] = (ended - began) * 1000
            if len(ran) == 4:
                trip["exec_ms"] = (ran[1] - ran[0]) * 1000
                trip["exec_cpu_ms"] = ran[2] * 1000
                trip["exec_runnable_ms"] = ran[3] * 1000
                trip["queue_ms"] = (ran[0] - began) * 1000
                trip["resume_ms"] = (ended - ran[1]) * 1000
            ROUND_TRIPS.append(trip)

    aiosqlite.Connection._execute = _execute  # type: ignore[method-assign]
    original_enter = UnitOfWork.__aenter__

    async def __aenter__(self: Any) -> Any:
        began = time.perf_counter()
        entered = await original_enter(self)
        if self._write_lock is not None:
            ms = (time.perf_counter() - began) * 1000
            ROUND_TRIPS.append(
                {"began": began, "scope": _SCOPE.get(), "sql": "WRITE LOCK", "ms": ms}
            )
        return entered

    UnitOfWork.__aenter__ = __aenter__  # type: ignore[method-assign]


def _write() -> None:
    path = os.environ.get("ROUTER_TRACE_FILE")
    if path:
        with open(path, "w") as out:
            trace = {
                "timeline": TIMELINE,
                "polls": POLLS,
                "marks": MARKS,
                "commits": COMMITS,
                "rounds": ROUNDS,
                "publishes": PUBLISHES,
                "round_trips": ROUND_TRIPS,
                "collections": COLLECTIONS,
            }
            json.dump(trace, out)


def _write_and_exit(signum: int, _frame: object) -> None:
    """uvicorn shuts down on SIGTERM, then restores the handler it found (this one) and
    raises the signal again: the trace is written then."""
    _write()
    raise SystemExit(128 + signum)


def main() -> None:
    switch = os.environ.get("ROUTER_TRACE_SWITCH_INTERVAL_S")
    if switch:  # an experiment: how long a thread waiting for the GIL waits
        sys.setswitchinterval(float(switch))
    _wrap_poll()
    _wrap_batch_handler()
    _wrap_hand_over()
    _wrap_relay()
    _wrap_relay_producer()
    _wrap_asyncpg()
    _wrap_aiosqlite()
    _watch_collections()
    signal.signal(signal.SIGTERM, _write_and_exit)
    from services.router.__main__ import main as router_main

    router_main()


if __name__ == "__main__":
    main()

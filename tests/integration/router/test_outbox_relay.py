"""The outbox relay on SQLite and PostgreSQL: committed rows handed over in memory are
published without reading their payloads back, rows it was not handed (a crash's
leftovers, another process's) are read, and all go out in outbox id order."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from functools import partial

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from libs.common.cloudevents import Headers
from libs.common.kafka.producer import PublishError
from services.router.relay import RELAY_LOCK_KEY, OutboxRelay
from services.router.store.bulk import driver_connection
from services.router.store.models import OutboxPending, OutboxRow
from services.router.store.outbox import (
    _LOCK_AND_MARK_UNSENT,
    CommittedOutbox,
    LocalUnsentRead,
    UnsentReader,
    lock_and_mark_unsent,
    mark_sent,
    unsent_ids,
)
from services.router.store.unit_of_work import UnitOfWorkFactory
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.integration

TOPIC = "support.routing.v1"
KST = timezone(timedelta(hours=9))
Record = tuple[bytes, bytes, Headers]


class RecordingPublisher:
    """Stands in for the relay's Kafka publisher: keeps what it was given; ``fail``
    makes the next publish fail after recording it (Kafka did not acknowledge)."""

    def __init__(self) -> None:
        self.published: list[tuple[str, list[Record]]] = []
        self.fail = False

    async def publish(
        self, topic: str, records: list[Record], written_headers: list[bytes] | None = None
    ) -> None:
        self.published.append((topic, records))
        if self.fail:
            self.fail = False
            raise PublishError("not acknowledged (test)")

    def ce_ids(self) -> list[str]:
        return [dict(headers)["ce_id"].decode() for _, rs in self.published for _, _, headers in rs]


class Statements:
    """Every SQL statement the engine sends, as text."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.seen: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(" ".join(statement.split()))

    def payload_reads(self) -> list[str]:
        return [s for s in self.seen if s.startswith("SELECT") and "outbox.payload" in s]


def outbox_row(event_id: str, conversation_id: str, at: datetime) -> dict[str, object]:
    return {
        "event_id": event_id,
        "ce_type": "support.routing.interaction_routed.v1",
        "conversation_id": conversation_id,
        "occurred_at": at,
        "payload": f'{{"event": "{event_id}"}}',
    }


async def commit_rows(factory: UnitOfWorkFactory, *rows: dict[str, object]) -> None:
    async with factory() as uow:
        for row in rows:
            uow.insert_later(OutboxRow, row)
        await uow.commit()


async def unsent(factory: UnitOfWorkFactory) -> list[str]:
    async with factory.reader() as uow:
        query = select(OutboxRow.event_id).where(OutboxRow.id.in_(select(OutboxPending.id)))
        return list(await uow.session.scalars(query.order_by(OutboxRow.id)))


RelayFor = Callable[..., OutboxRelay]


@pytest.fixture
async def relay_for() -> AsyncIterator[RelayFor]:
    """Builds relays with rounds of 2 rows; closes them (the connection their SQLite
    rounds read on) at the end, as ``run`` does when it ends."""
    relays: list[OutboxRelay] = []

    def build(factory: UnitOfWorkFactory, committed: CommittedOutbox, publisher) -> OutboxRelay:  # type: ignore[no-untyped-def]
        relays.append(OutboxRelay(factory, publisher, topic=TOPIC, committed=committed, batch=2))
        return relays[-1]

    yield build
    for relay in relays:
        await relay.close()


async def test_handed_rows_are_published_without_reading_their_payloads(engine, relay_for):
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    publisher = RecordingPublisher()
    relay = relay_for(factory, committed, publisher)  # built first, as the runtime does
    at = datetime(2026, 3, 4, 10, 0, tzinfo=KST)
    rows = [outbox_row(f"ev-{n}", f"conv-{n % 2}", at) for n in range(5)]
    await commit_rows(factory, *rows)
    assert len(relay.committed) == 5 and relay.wake.is_set()

    statements = Statements(engine)
    assert await relay.publish_pending() == 5  # all handed rows in one round (batch is 2)

    assert publisher.ce_ids() == [f"ev-{n}" for n in range(5)]
    assert statements.payload_reads() == []
    await relay.mark_published()  # SQLite: its own short write (PostgreSQL: in the round)
    assert await unsent(factory) == []
    assert len(committed) == 0
    [(topic, records)] = publisher.published
    key, value, headers = records[0]
    assert (topic, key, value) == (TOPIC, b"conv-0", b'{"event": "ev-0"}')
    assert dict(headers)["ce_time"] == at.astimezone(UTC).isoformat().encode()


async def test_rows_not_handed_are_read_and_all_go_out_in_id_order(engine, relay_for):
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    elsewhere = UnitOfWorkFactory(engine)  # another process or replica: hands nothing over
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    await commit_rows(factory, outbox_row("mine-1", "conv-a", at))
    await commit_rows(elsewhere, outbox_row("theirs-1", "conv-a", at))
    await commit_rows(factory, outbox_row("mine-2", "conv-a", at))

    publisher = RecordingPublisher()
    statements = Statements(engine)
    relay = relay_for(factory, committed, publisher)
    assert [await relay.publish_pending() for _ in range(3)] == [2, 1, 0]  # rounds of 2

    assert publisher.ce_ids() == ["mine-1", "theirs-1", "mine-2"]
    assert len(statements.payload_reads()) == 1  # only for the row it was not handed
    await relay.mark_published()
    assert await unsent(factory) == []


async def test_a_failed_publish_leaves_the_rows_unsent_and_a_restart_republishes_the_same(
    engine, relay_for
):
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    at = datetime(2026, 3, 4, 10, 0, 0, 123456, tzinfo=KST)
    await commit_rows(factory, outbox_row("ev-1", "conv-1", at), outbox_row("ev-2", "conv-1", at))

    publisher = RecordingPublisher()
    publisher.fail = True
    with pytest.raises(PublishError):
        await relay_for(factory, committed, publisher).publish_pending()
    assert await unsent(factory) == ["ev-1", "ev-2"]  # not acknowledged: not marked

    # the process died: a new relay was handed nothing and reads the rows back
    restarted = RecordingPublisher()
    relay = relay_for(factory, CommittedOutbox(), restarted)
    assert await relay.publish_pending() == 2
    assert restarted.published == publisher.published  # same ce_id, same bytes
    await relay.mark_published()
    assert await unsent(factory) == []


async def test_rounds_skip_rows_published_but_not_yet_marked(engine, store_settings, relay_for):
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    publisher = RecordingPublisher()
    relay = relay_for(factory, committed, publisher)
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    await commit_rows(factory, outbox_row("ev-1", "conv-1", at))
    assert await relay.publish_pending() == 1
    await commit_rows(factory, outbox_row("ev-2", "conv-1", at))  # SQLite: marks ev-1
    assert await relay.publish_pending() == 1  # ev-2 only, whether or not ev-1 is marked
    assert await relay.publish_pending() == 0
    assert publisher.ce_ids() == ["ev-1", "ev-2"]
    marked = await relay.mark_published()
    assert marked == (1 if store_settings.is_sqlite else 0)
    assert await unsent(factory) == []


async def test_sqlite_a_writing_unit_of_work_marks_what_the_relay_published(
    engine, store_settings, relay_for
):
    """The rows published before a unit of work commits writes are marked sent in its
    transaction (the same rows deleted from outbox_pending as the relay's own mark), not
    by a write of the relay's; a unit that rolls back leaves them to the relay."""
    if not store_settings.is_sqlite:
        pytest.skip("PostgreSQL marks inside the round, under the relay lock")
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    publisher = RecordingPublisher()
    relay = relay_for(factory, committed, publisher)
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    await commit_rows(factory, *(outbox_row(f"ev-{n}", "conv-1", at) for n in range(3)))
    assert await relay.publish_pending() == 3
    assert await unsent(factory) == ["ev-0", "ev-1", "ev-2"]  # published, not marked
    assert relay.published.unmarked

    async with factory() as uow:  # a unit that writes, then rolls back: nothing marked
        uow.insert_later(OutboxRow, outbox_row("ev-x", "conv-2", at))
        await uow.flush()
        await uow.rollback()
    assert await unsent(factory) == ["ev-0", "ev-1", "ev-2"]
    assert len(relay.published) == 3

    async with factory() as uow:  # fails in its commit's hop: the marks are put back
        uow.insert_later(OutboxRow, {**outbox_row("ev-0", "conv-2", at)})  # ev-0 again
        with pytest.raises(Exception):  # noqa: B017 - the unique event id
            await uow.commit()
    assert await unsent(factory) == ["ev-0", "ev-1", "ev-2"]
    assert len(relay.published) == 3 and len(relay.published.unmarked) == 3

    await commit_rows(factory, outbox_row("ev-3", "conv-2", at))
    assert await unsent(factory) == ["ev-3"]  # ev-0..2 marked with ev-3's commit
    assert len(relay.published) == 0 and not relay.published.unmarked
    assert await relay.mark_published() == 0  # nothing left for a write of its own
    assert await relay.publish_pending() == 1
    assert publisher.ce_ids() == ["ev-0", "ev-1", "ev-2", "ev-3"]  # each once


async def test_sqlite_the_relay_marks_rows_no_unit_of_work_took(engine, store_settings):
    """Without writes after a round (an idle router), the mark loop marks the rows one
    mark interval after it first saw them, in a write of its own, and records the sent
    mark once one is due, also when units of work had marked the rows."""
    if not store_settings.is_sqlite:
        pytest.skip("PostgreSQL marks inside the round, under the relay lock")
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    publisher = RecordingPublisher()
    relay = OutboxRelay(factory, publisher, topic=TOPIC, committed=committed, batch=2)
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    try:
        await commit_rows(factory, outbox_row("ev-0", "conv-1", at))
        assert await relay.publish_pending() == 1
        await commit_rows(factory, outbox_row("ev-1", "conv-1", at))  # marks ev-0
        assert relay.published.marked_up_to > 0
        statements = Statements(engine)
        # a sent mark is due (none yet): written without a row to mark
        assert await relay.mark_published(stale_only=True) == 0
        sent_marks = [s for s in statements.seen if s.startswith("INSERT INTO outbox_sent_marks")]
        assert len(sent_marks) == 1
        assert await relay.publish_pending() == 1  # ev-1
        assert await relay.mark_published(stale_only=True) == 0  # fresh: a unit may take it
        assert await unsent(factory) == ["ev-1"]
        assert await relay.mark_published(stale_only=True) == 1  # stale now: the relay's
        assert await unsent(factory) == []
        writes = [s.split()[0] for s in statements.seen if not s.startswith("SELECT")]
        assert writes == ["INSERT", "DELETE"]  # the sent mark; the stale row's mark, alone
    finally:
        await relay.close()


async def published_and_marked(
    factory: UnitOfWorkFactory, publisher: RecordingPublisher, event_id: str
) -> bool:
    return event_id in publisher.ce_ids() and event_id not in await unsent(factory)


async def test_the_running_relay_publishes_each_commit_and_marks_it(engine):
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    publisher = RecordingPublisher()
    relay = OutboxRelay(factory, publisher, topic=TOPIC, committed=committed, interval_s=30)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    try:
        for n in range(3):  # woken by each commit (the 30 s interval never elapses)
            event_id = f"ev-{n}"
            await commit_rows(factory, outbox_row(event_id, "conv-1", at))
            await eventually(partial(published_and_marked, factory, publisher, event_id))
    finally:
        stop.set()
        await running
    assert publisher.ce_ids() == ["ev-0", "ev-1", "ev-2"]


async def test_sqlite_a_failed_mark_is_tried_again_without_another_round(
    engine, store_settings, monkeypatch
):
    """The mark task waits for a round that published, with no timer; the rows of a
    mark that failed (the database unreachable) are marked by its retry, even when no
    round publishes anything after it."""
    if not store_settings.is_sqlite:
        pytest.skip("PostgreSQL marks inside the round, under the relay lock")
    failures = [RuntimeError("database unreachable (test)")]

    async def mark_sent_failing_once(session, ids):  # type: ignore[no-untyped-def]
        if failures:
            raise failures.pop()
        await mark_sent(session, ids)

    monkeypatch.setattr("services.router.relay.mark_sent", mark_sent_failing_once)
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    publisher = RecordingPublisher()
    relay = OutboxRelay(
        factory, publisher, topic=TOPIC, committed=committed, interval_s=30, mark_interval_s=0.01
    )
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await commit_rows(factory, outbox_row("ev-1", "conv-1", datetime(2026, 3, 4, tzinfo=UTC)))
        await eventually(partial(published_and_marked, factory, publisher, "ev-1"))
    finally:
        stop.set()
        await running
    assert failures == []
    assert publisher.ce_ids() == ["ev-1"]


async def test_handed_rows_another_relay_already_sent_are_forgotten(engine, relay_for):
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    await commit_rows(factory, outbox_row("ev-1", "conv-1", at))
    async with factory() as uow:  # as the replica holding the relay lock would
        [row_id] = await uow.session.scalars(select(OutboxRow.id))
        await mark_sent(uow.session, [row_id])
        await uow.commit()

    publisher = RecordingPublisher()
    assert await relay_for(factory, committed, publisher).publish_pending() == 0
    assert publisher.published == []
    assert len(committed) == 0


async def test_rows_of_a_rolled_back_transaction_are_never_handed_over(engine):
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    async with factory() as uow:
        uow.insert_later(OutboxRow, outbox_row("ev-1", "conv-1", datetime.now(UTC)))
        await uow.flush()
        await uow.rollback()
    assert len(committed) == 0
    assert await unsent(factory) == []


async def test_sqlite_marks_the_rounds_of_a_mark_interval_in_one_write(engine, store_settings):
    """A mark per round was a second write (and fsync) per routed poll, queued on the
    write lock the consumer's next poll needs: the rounds are marked together."""
    if not store_settings.is_sqlite:
        pytest.skip("PostgreSQL marks inside the round, under the relay lock")
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    publisher = RecordingPublisher()
    relay = OutboxRelay(
        factory, publisher, topic=TOPIC, committed=committed, interval_s=30, mark_interval_s=2.0
    )
    statements = Statements(engine)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    try:
        for n in range(3):  # three commits, three rounds, within the 2 s
            await commit_rows(factory, outbox_row(f"ev-{n}", "conv-1", at))
            await eventually(lambda n=n: f"ev-{n}" in publisher.ce_ids())
        assert len(publisher.published) == 3
        await eventually(partial(published_and_marked, factory, publisher, "ev-2"))
    finally:
        stop.set()
        await running
    marks = [s for s in statements.seen if s.startswith("DELETE FROM outbox_pending")]
    assert len(marks) == 1
    assert await unsent(factory) == []


async def test_postgres_round_waits_for_the_replica_holding_the_relay_lock(
    engine, store_settings, relay_for
):
    """One relaying replica at a time: while another holds the lock, a round publishes
    nothing; the lock and the read are one statement, the mark is in the round."""
    if store_settings.is_sqlite:
        pytest.skip("SQLite: one process, no relay lock")
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    publisher = RecordingPublisher()
    relay = relay_for(factory, committed, publisher)
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    await commit_rows(factory, outbox_row("ev-1", "conv-1", at))
    async with engine.connect() as other_replica:
        await other_replica.execute(text("SELECT pg_advisory_lock(:k)"), {"k": RELAY_LOCK_KEY})
        assert await relay.publish_pending() == 0
        assert publisher.published == []
        await other_replica.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": RELAY_LOCK_KEY})

    statements = Statements(engine)
    assert await relay.publish_pending() == 1
    assert publisher.ce_ids() == ["ev-1"]
    assert await unsent(factory) == []  # marked in the round
    # the first round records how far it published (retention's clock), before publishing
    sent_marks = [s for s in statements.seen if s.startswith("INSERT INTO outbox_sent_marks")]
    assert len(sent_marks) == 1
    round_statements = [
        s
        for s in statements.seen
        if not s.startswith(("SELECT outbox.event_id", "INSERT INTO outbox_sent_marks"))
    ]
    [lock_and_mark] = round_statements  # nothing between the Kafka ack and the commit
    assert "pg_try_advisory_xact_lock" in lock_and_mark
    assert "DELETE FROM outbox_pending" in lock_and_mark


async def test_postgres_rows_count_as_sent_only_once_kafka_acknowledged(
    engine, store_settings, relay_for
):
    """The round marks the rows before publishing them, in its transaction: until the
    ack and the commit, everyone else still reads them as unsent."""
    if store_settings.is_sqlite:
        pytest.skip("SQLite marks after the ack, in a write of its own")
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    seen_while_publishing: list[list[str]] = []

    class Observing(RecordingPublisher):
        async def publish(
            self, topic: str, records: list[Record], written_headers: list[bytes] | None = None
        ) -> None:
            seen_while_publishing.append(await unsent(factory))
            await super().publish(topic, records, written_headers)

    publisher = Observing()
    relay = relay_for(factory, committed, publisher)
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    await commit_rows(factory, outbox_row("ev-1", "conv-1", at), outbox_row("ev-2", "conv-1", at))
    assert await relay.publish_pending() == 2
    assert seen_while_publishing == [["ev-1", "ev-2"]]
    assert await unsent(factory) == []


async def test_postgres_relay_transaction_commits_without_waiting_for_the_wal_flush(
    engine, store_settings
):
    """A lost mark only re-publishes the same ``ce_id``: the relay's commit need not wait
    for an fsync; every other transaction keeps ``synchronous_commit=on``."""
    if store_settings.is_sqlite:
        pytest.skip("PostgreSQL only")
    factory = UnitOfWorkFactory(engine)
    async with factory() as uow:
        assert await lock_and_mark_unsent(uow.session, lock_key=RELAY_LOCK_KEY, limit=10) == []
        assert await uow.session.scalar(text("SHOW synchronous_commit")) == "off"
    async with factory() as uow:
        assert await uow.session.scalar(text("SHOW synchronous_commit")) == "on"


async def test_postgres_relay_marks_through_the_queue_key_after_stats_saw_it_full(
    engine, store_settings
):
    """Statistics taken while a backlog filled the queue (autovacuum's ANALYZE) must not
    turn each round's mark into a scan of the whole queue: the DELETE finds the round's
    ids by the primary key (with ``USING next`` the planner hash-joined a sequential scan
    of all of ``outbox_pending``, ~4 times the statement's time, every round)."""
    if store_settings.is_sqlite:
        pytest.skip("PostgreSQL only")
    factory = UnitOfWorkFactory(engine)
    async with factory() as uow:
        await uow.session.execute(
            text(
                "INSERT INTO outbox (event_id, ce_type, conversation_id, occurred_at, payload)"
                " SELECT 'ev-' || n, 'support.routing.interaction_routed.v1', 'conv-1',"
                " now(), '{}' FROM generate_series(1, 20000) AS n"
            )
        )
        await uow.commit()
    async with factory() as uow:
        await uow.session.execute(text("ANALYZE outbox_pending"))
        await uow.commit()
    statement = _LOCK_AND_MARK_UNSENT.text.replace(":lock_key", str(RELAY_LOCK_KEY))
    async with factory() as uow:
        plan = await uow.session.scalar(
            text("EXPLAIN (FORMAT JSON) " + statement.replace(":limit", "1000"))
        )
        await uow.rollback()
    scans = list(_scans(plan[0]["Plan"]))
    assert ("Seq Scan", "outbox_pending") not in scans, scans
    assert ("Index Scan", "outbox_pending") in scans, scans
    # the old form also joined the marked ids to a scan of the whole outbox here
    assert ("Seq Scan", "outbox") not in scans, scans


def _scans(node: dict) -> Iterator[tuple[str, str]]:
    if "Relation Name" in node:
        yield node["Node Type"], node["Relation Name"]
    for child in node.get("Plans", ()):
        yield from _scans(child)


async def test_mark_sent_marks_exactly_the_ids_given_across_gaps(engine):
    """Marked by runs of consecutive ids (``BETWEEN``): the rows between two runs stay
    unsent."""
    factory = UnitOfWorkFactory(engine)
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    await commit_rows(factory, *(outbox_row(f"ev-{n}", "conv-1", at) for n in range(8)))
    async with factory.reader() as uow:
        ids = list(await uow.session.scalars(select(OutboxRow.id).order_by(OutboxRow.id)))
    async with factory() as uow:
        chosen = [ids[5], ids[0], ids[1], ids[3], ids[6], ids[1]]
        await mark_sent(uow.session, chosen)
        await uow.commit()
    assert await unsent(factory) == ["ev-2", "ev-4", "ev-7"]
    async with factory.reader() as uow:  # the rows themselves are never rewritten
        assert len(list(await uow.session.scalars(select(OutboxRow.id)))) == 8


async def test_unsent_ids_leave_out_exactly_the_excluded_rows(engine):
    """The published, not yet marked rows are left out by the statement (one run of
    consecutive ids, or a few) or, when scattered over many runs, after the read: the
    next ``limit`` of the others either way, in id order."""
    factory = UnitOfWorkFactory(engine)
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    await commit_rows(factory, *(outbox_row(f"ev-{n}", "conv-1", at) for n in range(60)))
    async with factory.reader() as uow:
        ids = list(await uow.session.scalars(select(OutboxRow.id).order_by(OutboxRow.id)))
    few_runs = {*ids[0:10], *ids[12:15], ids[20]}
    scattered = set(ids[0:40:2])  # 20 runs of one id each
    one_run, one_in_the_middle = set(ids[0:10]), set(ids[3:9])  # the statement built once
    kept = UnsentReader(engine)
    for excluding in (few_runs, scattered, set(), one_run, one_in_the_middle, [ids[4]]):
        async with factory.reader() as uow:
            read = await unsent_ids(uow.session, limit=7, excluding=excluding)
        expected = [i for i in ids if i not in excluding][:7]
        assert [row.id for row in read] == expected
        assert [row.event_id for row in read] == [f"ev-{ids.index(i)}" for i in expected]
        assert await kept.unsent_ids(limit=7, excluding=excluding) == read  # the relay's way
        if engine.dialect.name == "sqlite":  # on the loop's thread: nothing or one run out
            assert kept._local is not None
            on_loop = kept._local.unsent_ids(limit=7, excluding=set(excluding))
            usual = excluding in (set(), one_run, one_in_the_middle, [ids[4]])
            assert on_loop == (read if usual else None)
    await kept.close()


async def test_sqlite_rounds_read_on_the_loops_thread_and_see_each_commit(
    engine, store_settings, relay_for
):
    """The rounds read on the event loop's thread (no pooled connection, no hop to a
    database thread), yet each sees what was committed since the last (no read
    transaction is left open); a read that fails there is read through the hop, and the
    next round reads on the loop's thread again, on a new connection."""
    if not store_settings.is_sqlite:
        pytest.skip("PostgreSQL reads in the round's own transaction")
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    elsewhere = UnitOfWorkFactory(engine)  # rows read back, not handed over
    publisher = RecordingPublisher()
    relay = relay_for(factory, committed, publisher)
    reader = relay._unsent
    assert reader is not None
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    checkouts: list[object] = []
    event.listen(engine.sync_engine.pool, "checkout", lambda *args: checkouts.append(args))
    for n in range(1, 4):
        await commit_rows(factory, outbox_row(f"ev-{n}", "conv-a", at))
        assert await relay.publish_pending() == 1
    await commit_rows(elsewhere, outbox_row("theirs", "conv-a", at))
    assert await relay.publish_pending() == 1
    # the four commits' own and the payload read of the row not handed, no round's
    assert len(checkouts) == 5
    assert reader._connection is None  # the hop's connection never opened
    local = reader._local
    assert local is not None and local._connection is not None
    local._connection.close()  # the loop's connection broke
    await commit_rows(factory, outbox_row("ev-5", "conv-a", at))
    assert await relay.publish_pending() == 1  # read through the hop
    assert reader._connection is not None
    await commit_rows(factory, outbox_row("ev-6", "conv-a", at))
    assert await relay.publish_pending() == 1
    assert local._connection is not None  # on the loop's thread again
    assert publisher.ce_ids() == ["ev-1", "ev-2", "ev-3", "theirs", "ev-5", "ev-6"]


async def test_sqlite_rounds_read_through_the_hop_on_one_kept_connection(
    engine, store_settings, relay_for
):
    """Where the loop's thread does not read (a store not in WAL mode, several runs left
    out), the rounds read on a pooled connection they keep (no checkout a round) and
    each sees every commit; after a failed read the next round reads on a new one."""
    if not store_settings.is_sqlite:
        pytest.skip("PostgreSQL reads in the round's own transaction")
    committed = CommittedOutbox()
    factory = UnitOfWorkFactory(engine, hand_over=committed.hand_over)
    elsewhere = UnitOfWorkFactory(engine)  # rows read back, not handed over
    publisher = RecordingPublisher()
    relay = relay_for(factory, committed, publisher)
    assert relay._unsent is not None and relay._unsent._local is not None
    relay._unsent._local.usable = False  # as for a store not in WAL mode
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    await commit_rows(factory, outbox_row("ev-1", "conv-a", at))
    assert await relay.publish_pending() == 1
    checkouts: list[object] = []
    event.listen(engine.sync_engine.pool, "checkout", lambda *args: checkouts.append(args))
    for n in range(2, 5):
        await commit_rows(factory, outbox_row(f"ev-{n}", "conv-a", at))
        assert await relay.publish_pending() == 1
    assert len(checkouts) == 3  # the three commits' own, none of the rounds'
    await commit_rows(elsewhere, outbox_row("theirs", "conv-a", at))
    kept = relay._unsent._connection
    assert kept is not None
    await (await driver_connection(kept)).close()  # the connection broke under the pool
    with pytest.raises(ValueError, match="Connection closed"):  # aiosqlite's
        await relay.publish_pending()
    assert await relay.publish_pending() == 1  # on a new connection
    assert publisher.ce_ids() == ["ev-1", "ev-2", "ev-3", "ev-4", "theirs"]


def test_a_store_not_in_wal_mode_is_not_read_on_the_loops_thread(tmp_path):
    """In another journal mode a reader can wait for the writer: never on the loop."""
    path = tmp_path / "rollback-journal.db"
    sqlite3.connect(path).execute("CREATE TABLE t (id INTEGER)").connection.close()
    local = LocalUnsentRead(str(path), {})
    assert local.unsent_ids(limit=5, excluding=set()) is None
    assert not local.usable


def test_an_in_memory_store_is_not_read_on_the_loops_thread():
    """A connection of its own would see another database."""
    for url in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"):
        assert LocalUnsentRead.for_engine(create_async_engine(url)) is None

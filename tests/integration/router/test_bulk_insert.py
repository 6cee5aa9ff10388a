"""BulkInserter (rows straight to the driver's executemany) stores exactly what
SQLAlchemy's own ``insert(table)`` stores for the same rows, on SQLite and PostgreSQL:
timestamps (any zone in, UTC stored), JSON (None as JSON null), Python-side defaults
for left-out columns, booleans and floats, rows of several shapes in one call."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from itertools import groupby
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.router.store.bulk import COPY_FROM, SQLITE_ROWS_A_STATEMENT, BulkInserter
from services.router.store.models import (
    AttachmentRow,
    AuditRow,
    Contact,
    ContactIdentity,
    Conversation,
    InteractionRecord,
    MessageIndex,
    OutboxRow,
    SequenceCounter,
    SlaTimer,
)
from services.router.store.unit_of_work import UnitOfWorkFactory

pytestmark = pytest.mark.integration

KST = timezone(timedelta(hours=9))
AT = datetime(2026, 3, 4, 10, 0, 0, 123456, tzinfo=KST)
ON_THE_SECOND = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)  # microsecond 0: still 6 digits


def rows_of(p: str) -> list[tuple[type, list[dict[str, Any]]]]:
    """Rows of every table the unit of work bulk-inserts; ``p`` prefixes every key."""
    return [
        (
            Contact,
            [
                {"id": f"{p}k1", "display_name": "김민수", "locale": "ko-KR", "created_at": AT},
                {"id": f"{p}k2", "display_name": None, "created_at": ON_THE_SECOND},
            ],
        ),
        (
            ContactIdentity,
            [{"kind": "email", "value": f"{p}a@example.com", "contact_id": f"{p}k1"}],
        ),
        (
            Conversation,
            [
                {
                    "id": f"{p}c1",
                    "reference": f"{p}C-1",
                    "contact_id": f"{p}k1",
                    "channel": "chat",
                    "provider": "line",
                    "integration": "main",
                    "status": "open",
                    "queue": "general",
                    "priority": "normal",
                    "tags": ["vip", "출금"],
                    "skills": [],
                    "automated": False,
                    "customer": {"email": f"{p}a@example.com", "display_name": "김민수"},
                    "customer_flags": {},
                    "opened_at": AT,
                    "last_activity_at": AT,
                    "first_response_due_at": None,
                    "resolution_elapsed_minutes": 0,  # an int given to a float column
                    "breached": True,
                    "escalation_level": 0,
                    "clock_cycle": 2,
                    "references": [f"<{p}m1@x>"],
                    "reply_path": {"provider": "line", "user_id": "U1"},
                },
                {  # another shape: what is left out gets the model's defaults
                    "id": f"{p}c2",
                    "reference": f"{p}C-2",
                    "contact_id": f"{p}k2",
                    "channel": "email",
                    "provider": "imap",
                    "integration": "support",
                    "status": "pending",
                    "queue": "general",
                    "priority": "high",
                    "opened_at": ON_THE_SECOND,
                    "last_activity_at": ON_THE_SECOND,
                },
            ],
        ),
        (
            InteractionRecord,
            [
                {
                    "event_id": f"{p}e1",
                    "conversation_id": f"{p}c1",
                    "contact_id": f"{p}k1",
                    "channel": "chat",
                    "direction": "inbound",
                    "kind": "message",
                    "occurred_at": AT,
                    "processed_at": ON_THE_SECOND,
                    "message_id": None,
                    "author": "김민수",
                    "subject": None,
                    "note": "new conversation",
                },
            ],
        ),
        (MessageIndex, [{"message_id": f"<{p}m1@x>", "conversation_id": f"{p}c1"}]),
        (
            SlaTimer,
            [
                {
                    "conversation_id": f"{p}c1",
                    "metric": metric,
                    "kind": "breach",
                    "cycle": 1,
                    "target_minutes": 60,
                    "clock_started_at": AT,
                    "breach_at": AT + timedelta(minutes=60),
                    "due_at": AT + timedelta(minutes=48),
                    "fired_at": None,
                    "cancelled_at": None,
                }
                for metric in ("first_response", "resolution")
            ],
        ),
        (
            OutboxRow,
            [
                {
                    "event_id": f"{p}ev1",
                    "ce_type": "support.routing.interaction_routed.v1",
                    "conversation_id": f"{p}c1",
                    "occurred_at": AT,
                    "payload": '{"a": "출금"}',
                }
            ],
        ),
        (
            AttachmentRow,
            [
                {
                    "id": f"{p}at1",
                    "event_id": f"{p}e1",
                    "conversation_id": f"{p}c1",
                    "ordinal": 0,
                    "kind": "attachment",
                    "name": "영수증.pdf",
                    "content_type": "application/pdf",
                    "size": 12345,
                    "sha256": None,
                    "url": None,
                }
            ],
        ),
        (
            AuditRow,
            [
                {
                    "at": AT,
                    "actor": f"{p}sup-1",
                    "role": "supervisor",
                    "action": "conversation.resolve",
                    "conversation_id": f"{p}c1",
                    "outcome": "ok",
                    "before": None,  # JSON null, as SQLAlchemy writes a None given to JSON
                    "after": {"status": "resolved"},
                }
            ],
        ),
    ]


async def stored(session: AsyncSession, table: sa.Table) -> list[tuple[Any, ...]]:
    """The stored values as the database keeps them (PostgreSQL: as text), in insert
    order, without autoincrement ids (their sequences differ between the two halves)."""
    dialect = session.get_bind().dialect
    quote = dialect.identifier_preparer.quote
    columns = [c for c in table.columns if not (c.primary_key and c.autoincrement is True)]
    as_text = dialect.name == "postgresql"
    shown = ", ".join(
        f"CAST({quote(c.name)} AS TEXT)" if as_text else quote(c.name) for c in columns
    )
    order = "id" if "id" in table.c else ", ".join(quote(c.name) for c in table.primary_key)
    connection = await session.connection()
    query = f"SELECT {shown} FROM {quote(table.name)} ORDER BY {order}"  # noqa: S608
    return [tuple(row) for row in await connection.exec_driver_sql(query)]


@pytest.mark.parametrize(
    ("copy_from", "together"),
    [(50, False), (1, False), (50, True), (1, True)],
    ids=["executemany", "copy-on-postgres", "together-on-postgres", "together-with-copies"],
)
async def test_driver_inserts_store_what_sqlalchemy_stores(
    engine: AsyncEngine, copy_from: int, together: bool
):
    """Each way the driver inserts: executemany, COPY, and on PostgreSQL every table's
    runs in one statement (``insert_together``: unnest arrays chained as CTEs; with a
    run large enough to COPY, each run by itself)."""
    if together and engine.dialect.name != "postgresql":
        pytest.skip("insert_together is PostgreSQL's")
    inserter = BulkInserter(engine.dialect, copy_from=copy_from)
    seen: list[str] = []
    inserter.watchers.append(seen.append)
    async with AsyncSession(engine) as session, session.begin():
        for model, rows in rows_of("a-"):
            for _, same_keys in groupby(rows, key=tuple):  # SQLAlchemy: one shape per call
                await session.execute(sa.insert(model.__table__), list(same_keys))
        if together:
            groups = [(model.__table__, rows) for model, rows in rows_of("b-")]
            await inserter.insert_together(session, groups)
        else:
            for model, rows in rows_of("b-"):
                await inserter.insert(session, model.__table__, rows)
    if together:  # one statement, or a COPY per run (a run of one row is no group)
        assert len(seen) == 1 if copy_from == 50 else len(seen) > len(rows_of("")), seen

    async with AsyncSession(engine) as session:
        for model, _ in rows_of(""):
            table = model.__table__
            await assert_twins_stored_alike(session, table)


async def assert_twins_stored_alike(session: AsyncSession, table: sa.Table) -> None:
    """The "b-" rows (written the way under test) equal the "a-" rows (SQLAlchemy's),
    prefixes aside, and there are some."""
    both = await stored(session, table)
    by_sqlalchemy = [r for r in both if _has(r, "a-")]
    by_driver = [r for r in both if _has(r, "b-")]
    assert by_sqlalchemy, table.name
    assert [_strip(r, "b-") for r in by_driver] == [_strip(r, "a-") for r in by_sqlalchemy]


async def insert_twin_conversations(session: AsyncSession) -> list[str]:
    """The contacts and conversations of ``rows_of`` twice, as SQLAlchemy inserts them,
    their ids prefixed "a-" and "b-" (one twin for each way under test); the unprefixed
    conversation ids."""
    for prefix in ("a-", "b-"):
        rows = dict(rows_of(prefix))
        for model in (Contact, Conversation):
            for _, same_keys in groupby(rows[model], key=tuple):
                await session.execute(sa.insert(model.__table__), list(same_keys))
    return [row["id"] for row in dict(rows_of(""))[Conversation]]


def _has(row: tuple[Any, ...], prefix: str) -> bool:
    return any(isinstance(v, str) and prefix in v for v in row)


def _strip(row: tuple[Any, ...], prefix: str) -> tuple[Any, ...]:
    return tuple(v.replace(prefix, "") if isinstance(v, str) else v for v in row)


async def test_a_copy_as_the_first_statement_rolls_back_with_the_unit_of_work(engine):
    factory = UnitOfWorkFactory(engine)
    rows = [
        {
            "event_id": f"ev-{n}",
            "ce_type": "support.routing.interaction_routed.v1",
            "conversation_id": "conv-1",
            "occurred_at": AT,
            "payload": "{}",
        }
        for n in range(COPY_FROM)  # enough for COPY on PostgreSQL
    ]
    async with factory() as uow:
        for row in rows:
            uow.insert_later(OutboxRow, row)
        await uow.flush()  # the transaction's first statement
        await uow.rollback()
    async with factory.reader() as uow:
        assert await uow.session.scalar(sa.select(sa.func.count()).select_from(OutboxRow)) == 0


#: Changed columns of a conversation, of every type the router updates.
CHANGES = {
    "status": "resolved",
    "last_activity_at": AT,
    "resolved_at": ON_THE_SECOND,
    "customer": {"email": "kim@example.com", "display_name": "김민수"},
    "reply_path": None,  # JSON null, as SQLAlchemy's JSON bind processor writes None
    "breached": True,
    "resolution_elapsed_minutes": 12.5,
    "assignee_id": None,
}


async def test_driver_updates_store_what_sqlalchemy_stores(engine: AsyncEngine):
    """``BulkInserter.update_many`` (straight to aiosqlite, asyncpg) against the same
    UPDATE run by SQLAlchemy, on rows inserted alike."""
    inserter = BulkInserter(engine.dialect)
    table = Conversation.__table__

    def statement() -> sa.Update:
        return (
            sa.update(table)
            .where(table.c.id == sa.bindparam("_pk"))
            .values({table.c[key]: sa.bindparam(key) for key in CHANGES})
        )

    async with AsyncSession(engine) as session, session.begin():
        ids = await insert_twin_conversations(session)
        await session.execute(statement(), [{"_pk": f"a-{i}", **CHANGES} for i in ids])
        params = [{"_pk": f"b-{i}", **CHANGES} for i in ids]
        updated = await inserter.update_many(session, "test", statement, params)
        assert updated in (-1, len(params))  # -1: asyncpg does not count an executemany

    async with AsyncSession(engine) as session:
        await assert_twins_stored_alike(session, table)


async def test_updates_of_several_shapes_together_store_what_sqlalchemy_stores(
    engine: AsyncEngine,
):
    """``BulkInserter.update_by_key_together`` (PostgreSQL: every shape in one
    statement) against SQLAlchemy's UPDATE of each shape, on rows inserted alike:
    each conversation gets one of two sets of changed columns, as a poll's mail and
    chat conversations do."""
    if engine.dialect.name != "postgresql":
        pytest.skip("update_by_key_together is PostgreSQL's")
    inserter = BulkInserter(engine.dialect)
    table = Conversation.__table__
    first = ("status", "last_activity_at", "customer", "reply_path")
    second = ("resolved_at", "breached", "resolution_elapsed_minutes", "assignee_id")
    seen: list[str] = []
    inserter.watchers.append(seen.append)
    async with AsyncSession(engine) as session, session.begin():
        ids = await insert_twin_conversations(session)
        assert len(ids) >= 2
        shapes = [(first, ids[:1]), (second, ids[1:])]
        for columns, some in shapes:
            await session.execute(
                sa.update(table)
                .where(table.c.id == sa.bindparam("_pk"))
                .values({table.c[key]: sa.bindparam(key) for key in columns}),
                [{"_pk": f"a-{i}", **{key: CHANGES[key] for key in columns}} for i in some],
            )
        await inserter.update_by_key_together(
            session,
            table,
            [
                (columns, [{"_pk": f"b-{i}", **{k: CHANGES[k] for k in columns}} for i in some])
                for columns, some in shapes
            ],
        )
    assert len(seen) == 1, seen
    async with AsyncSession(engine) as session:
        await assert_twins_stored_alike(session, table)


#: instants far from the poll's: before PostgreSQL's epoch (2000) and the Unix one, far
#: ahead, in zones with odd offsets, a microsecond either side of midnight UTC
EDGE_INSTANTS = [
    datetime(1, 1, 2, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(2000, 1, 1, tzinfo=UTC),
    datetime(2000, 1, 1, 5, 30, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 3, 4, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
    datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.parametrize("copy_from", [50, 1], ids=["executemany", "copy-on-postgres"])
async def test_edge_instants_are_stored_as_sqlalchemy_stores_them(
    engine: AsyncEngine, copy_from: int
):
    """The COPY's timestamps (microseconds from 2000 as int8, ``bulk._Copy``) far from
    now: the same stored instants as SQLAlchemy's insert of the same datetimes."""
    inserter = BulkInserter(engine.dialect, copy_from=copy_from)

    def timers(prefix: str) -> list[dict[str, Any]]:
        return [
            {
                "conversation_id": f"{prefix}c1",
                "metric": "first_response",
                "kind": "breach",
                "cycle": n,
                "target_minutes": 60,
                "clock_started_at": at,
                "breach_at": at,
                "due_at": at,
                "fired_at": None,
                "cancelled_at": at if n % 2 else None,
            }
            for n, at in enumerate(EDGE_INSTANTS)
        ]

    async with AsyncSession(engine) as session, session.begin():
        for prefix in ("a-", "b-"):
            contacts, conversations = rows_of(prefix)[0][1], rows_of(prefix)[2][1]
            await session.execute(sa.insert(Contact.__table__), contacts[:1])
            await session.execute(sa.insert(Conversation.__table__), conversations[:1])
        await session.execute(sa.insert(SlaTimer.__table__), timers("a-"))
        await inserter.insert(session, SlaTimer.__table__, timers("b-"))
    async with AsyncSession(engine) as session:
        table = SlaTimer.__table__
        rows = await session.execute(
            sa.select(table.c.conversation_id, table.c.cycle, table.c.due_at, table.c.cancelled_at)
        )
        by_prefix: dict[str, list[tuple[Any, ...]]] = {"a-": [], "b-": []}
        for conversation, cycle, due, cancelled in rows:
            by_prefix[conversation[:2]].append((cycle, due, cancelled))
        assert sorted(by_prefix["b-"]) == sorted(by_prefix["a-"])
        assert [due for _, due, _ in sorted(by_prefix["b-"])] == EDGE_INSTANTS


@pytest.mark.parametrize("copy_from", [50, 1], ids=["one-statement", "after-copies"])
async def test_updates_chained_after_inserts_store_what_sqlalchemy_stores(
    engine: AsyncEngine, copy_from: int
):
    """``insert_together(groups, updates)`` (PostgreSQL): rows inserted and existing
    rows updated (conversations of two shapes, a counter) in one statement, or after
    the runs' COPYs in one of their own, against SQLAlchemy's INSERTs and UPDATEs of
    the same rows."""
    if engine.dialect.name != "postgresql":
        pytest.skip("insert_together is PostgreSQL's")
    inserter = BulkInserter(engine.dialect, copy_from=copy_from)
    table, counters = Conversation.__table__, SequenceCounter.__table__
    first = ("status", "last_activity_at", "customer", "reply_path")
    second = ("resolved_at", "breached", "resolution_elapsed_minutes", "assignee_id")
    later = [(m, rows) for m, rows in rows_of("") if m not in (Contact, Conversation)]
    seen: list[str] = []
    inserter.watchers.append(seen.append)
    async with AsyncSession(engine) as session, session.begin():
        ids = await insert_twin_conversations(session)
        await session.execute(sa.insert(counters), [{"name": "a-n", "value": 0}])
        await session.execute(sa.insert(counters), [{"name": "b-n", "value": 0}])
        shapes = [(first, ids[:1]), (second, ids[1:])]
        for model, _ in later:
            rows = dict(rows_of("a-"))[model]
            for _, same_keys in groupby(rows, key=tuple):
                await session.execute(sa.insert(model.__table__), list(same_keys))
        for columns, some in shapes:
            await session.execute(
                sa.update(table)
                .where(table.c.id == sa.bindparam("_pk"))
                .values({table.c[key]: sa.bindparam(key) for key in columns}),
                [{"_pk": f"a-{i}", **{key: CHANGES[key] for key in columns}} for i in some],
            )
        await session.execute(sa.update(counters).where(counters.c.name == "a-n").values(value=5))
        await inserter.insert_together(
            session,
            [(model.__table__, dict(rows_of("b-"))[model]) for model, _ in later],
            [
                (
                    table,
                    [
                        (cols, [{"_pk": f"b-{i}", **{k: CHANGES[k] for k in cols}} for i in some])
                        for cols, some in shapes
                    ],
                ),
                (counters, [(("value",), [{"_pk": "b-n", "value": 5}])]),
            ],
        )
    if copy_from == 50:
        assert len(seen) == 1, seen
    else:  # the COPYs, then the updates together
        assert len(seen) > len(later) and seen[-1].count("UPDATE") == 3, seen
    async with AsyncSession(engine) as session:
        for model, _ in [*rows_of(""), (SequenceCounter, [])]:
            if model is not ContactIdentity:  # not inserted by insert_twin_conversations
                await assert_twins_stored_alike(session, model.__table__)


async def test_runs_of_many_rows_store_what_sqlalchemy_stores(engine: AsyncEngine):
    """Runs longer than a multi-row INSERT (SQLite: statements of each of
    ``SQLITE_ROWS_A_STATEMENT``'s sizes of rows, the rows left over one a row;
    PostgreSQL: COPY) store every row as SQLAlchemy does, in order, and every outbox row
    is queued unsent once."""
    copies = sum(SQLITE_ROWS_A_STATEMENT) + 5  # under 100: two digits (_numbered)

    def long_runs(half: str) -> list[tuple[type, list[dict[str, Any]]]]:
        by_model: dict[type, list[dict[str, Any]]] = {}
        for n in range(copies):
            for model, rows in rows_of(f"{half}{n:02d}-"):
                by_model.setdefault(model, []).extend(rows)
        # one run per shape (a stable sort: the copies' order within each)
        return [(m, sorted(rows, key=lambda row: sorted(row))) for m, rows in by_model.items()]

    inserter = BulkInserter(engine.dialect)
    async with AsyncSession(engine) as session, session.begin():
        for model, rows in long_runs("a"):
            for _, same_keys in groupby(rows, key=tuple):
                await session.execute(sa.insert(model.__table__), list(same_keys))
        await session.execute(sa.text("DELETE FROM outbox_pending"))
        for model, rows in long_runs("b"):
            await inserter.insert(session, model.__table__, rows)
    async with AsyncSession(engine) as session:
        for model, rows in long_runs(""):
            both = await stored(session, model.__table__)
            by_driver = [_unnumbered(r, "b") for r in both if _numbered(r, "b")]
            assert len(by_driver) == len(rows) >= copies, model
            assert by_driver == [_unnumbered(r, "a") for r in both if _numbered(r, "a")]
        pending = (await session.execute(sa.text("SELECT id FROM outbox_pending"))).scalars()
        driver_ids = await session.execute(
            sa.text("SELECT id FROM outbox WHERE event_id LIKE 'b%' ORDER BY id")
        )
        assert sorted(pending) == list(driver_ids.scalars())


def _numbered(row: tuple[Any, ...], half: str) -> bool:
    return any(isinstance(v, str) and re.search(rf"{half}\d\d-", v) for v in row)


def _unnumbered(row: tuple[Any, ...], half: str) -> tuple[Any, ...]:
    return tuple(re.sub(rf"{half}(\d\d)-", r"\1-", v) if isinstance(v, str) else v for v in row)

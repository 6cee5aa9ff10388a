"""The outbox's "unsent" queue (migration 0008) on SQLite and PostgreSQL: every inserted
row is pending in its own transaction (the trigger, for executemany and COPY alike), the
migration carries existing rows both ways, and "published before" reads the sent marks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from services.router.settings import RouterSettings
from services.router.store.bulk import COPY_FROM
from services.router.store.engine import alembic_config, build_engine, migrate
from services.router.store.models import OutboxPending, OutboxRow, OutboxSentMark
from services.router.store.outbox import (
    forget_sent_marks,
    mark_sent,
    published,
    published_before,
    record_sent_mark,
    unpublished,
)
from services.router.store.unit_of_work import UnitOfWorkFactory

pytestmark = pytest.mark.integration

AT = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)


def row(n: int) -> dict[str, object]:
    return {
        "event_id": f"ev-{n}",
        "ce_type": "support.routing.interaction_routed.v1",
        "conversation_id": "conv-1",
        "occurred_at": AT,
        "payload": f'{{"n": {n}}}',
    }


async def ids_where(factory: UnitOfWorkFactory, condition: sa.ColumnElement[bool]) -> list[int]:
    async with factory.reader() as uow:
        query = select(OutboxRow.id).where(condition).order_by(OutboxRow.id)
        return list(await uow.session.scalars(query))


@pytest.mark.parametrize("count", [3, COPY_FROM + 5])  # executemany; COPY on PostgreSQL
async def test_every_inserted_row_is_pending_and_only_once_committed(engine, count):
    factory = UnitOfWorkFactory(engine)
    async with factory() as uow:
        for n in range(count):
            uow.insert_later(OutboxRow, row(n))
        await uow.flush()
        await uow.rollback()
    async with factory.reader() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(OutboxPending)) == 0
    async with factory() as uow:
        for n in range(count):
            uow.insert_later(OutboxRow, row(n))
        await uow.commit()
    stored = await ids_where(factory, sa.true())
    assert len(stored) == count
    assert await ids_where(factory, unpublished()) == stored
    assert await ids_where(factory, published()) == []


async def test_rows_of_several_flushes_of_one_transaction_are_each_pending_once(engine):
    factory = UnitOfWorkFactory(engine)
    async with factory() as uow:
        uow.insert_later(OutboxRow, row(0))
        await uow.flush()
        uow.insert_later(OutboxRow, row(1))
        uow.insert_later(OutboxRow, row(2))
        await uow.flush()
        uow.insert_later(OutboxRow, row(3))
        await uow.commit()
    async with factory.reader() as uow:
        pending = list(await uow.session.scalars(select(OutboxPending.id).order_by("id")))
    assert pending == await ids_where(factory, sa.true())
    assert len(pending) == 4


async def test_published_before_counts_from_the_mark_that_covered_a_row(engine):
    factory = UnitOfWorkFactory(engine)
    async with factory() as uow:
        for n in range(5):
            uow.insert_later(OutboxRow, row(n))
        await uow.commit()
    ids = await ids_where(factory, sa.true())
    async with factory() as uow:  # ids 0-1 published at AT, 2-3 a minute later, 4 not
        await mark_sent(uow.session, ids[:2])
        await record_sent_mark(uow.session, ids[1], AT)
        await mark_sent(uow.session, ids[2:4])
        await record_sent_mark(uow.session, ids[3], AT + timedelta(minutes=1))
        await uow.commit()
    assert await ids_where(factory, published_before(AT)) == []
    assert await ids_where(factory, published_before(AT + timedelta(seconds=1))) == ids[:2]
    assert await ids_where(factory, published_before(AT + timedelta(hours=1))) == ids[:4]
    assert await ids_where(factory, unpublished()) == ids[4:]
    async with factory() as uow:
        await forget_sent_marks(uow.session, before=AT + timedelta(seconds=1))
        await uow.commit()
    async with factory.reader() as uow:
        marks = list(await uow.session.scalars(select(OutboxSentMark.last_id)))
    assert marks == [ids[3]]


def _outbox_indexes(connection: Connection) -> tuple[set[str], list[list[str]]]:
    inspector = sa.inspect(connection)
    indexes = {i["name"] for i in inspector.get_indexes("outbox") if i["name"]}
    unique = [u["column_names"] for u in inspector.get_unique_constraints("outbox")]
    if not unique:  # SQLite may report the UNIQUE as a unique index
        unique = [i["column_names"] for i in inspector.get_indexes("outbox") if i["unique"]]
    return indexes - {n for n in indexes if n.startswith("sqlite_autoindex")}, unique


def _at(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def _down_to(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


async def test_migration_carries_unsent_and_published_rows_both_ways(
    store_settings: RouterSettings,
):
    engine = build_engine(store_settings.database_url)
    old = sa.table(
        "outbox",
        sa.column("id", sa.Integer),
        sa.column("event_id", sa.String),
        sa.column("ce_type", sa.String),
        sa.column("conversation_id", sa.String),
        sa.column("occurred_at", OutboxRow.__table__.c.occurred_at.type),
        sa.column("payload", sa.String),
        sa.column("sent_at", OutboxRow.__table__.c.occurred_at.type),
    )
    sent = [AT, AT + timedelta(seconds=10), AT + timedelta(minutes=5), None, None]
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_at, "0007_assignee_status_index")
            await connection.execute(
                sa.insert(old), [{**row(n), "sent_at": at} for n, at in enumerate(sent)]
            )
        await migrate(engine)
        async with engine.connect() as connection:
            indexes, unique = await connection.run_sync(_outbox_indexes)
        assert "ix_outbox_conversation_id" in indexes
        assert "ix_outbox_unsent" not in indexes
        assert unique == [["event_id"]]  # the rebuilt table keeps its constraint
        factory = UnitOfWorkFactory(engine)
        ids = await ids_where(factory, sa.true())
        assert await ids_where(factory, unpublished()) == ids[3:]
        async with factory.reader() as uow:
            marks = (
                await uow.session.execute(
                    select(OutboxSentMark.sent_at, OutboxSentMark.last_id).order_by(
                        OutboxSentMark.id
                    )
                )
            ).all()
        # the latest (time, id) of each minute the rows were sent in
        assert [tuple(m) for m in marks] == [(sent[1], ids[1]), (sent[2], ids[2])]
        async with factory() as uow:  # new rows are pending (PostgreSQL: the trigger)
            uow.insert_later(OutboxRow, row(9))
            await uow.commit()
        assert len(await ids_where(factory, unpublished())) == 3

        async with engine.begin() as connection:
            await connection.run_sync(_down_to, "0007_assignee_status_index")
        async with engine.connect() as connection:
            restored = (
                await connection.execute(select(old.c.id, old.c.sent_at).order_by(old.c.id))
            ).all()
        # published rows get the time of the first mark covering them; unsent stay NULL
        assert [at for _, at in restored[:3]] == [sent[1], sent[1], sent[2]]
        assert [at for _, at in restored[3:]] == [None, None, None]
    finally:
        await engine.dispose()

"""Migration 0009 on SQLite and PostgreSQL: five indexes of mostly empty columns hold
only the rows with a value, every query that reads them still uses them (PostgreSQL: in
a generic plan too, as a prepared statement reused by asyncpg may be planned), and the
downgrade puts the full indexes back; the contacts' conversation index no longer holds
the last activity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.router.settings import RouterSettings
from services.router.store.engine import alembic_config, build_engine, migrate
from services.router.store.models import Contact, Conversation
from services.router.store.repositories import ConversationRepository
from services.router.store.unit_of_work import UnitOfWorkFactory

pytestmark = pytest.mark.integration

#: index -> (table, column), as migration 0009 makes them partial
PARTIAL = {
    "ix_conversations_call_group_key": ("conversations", "call_group_key"),
    "ix_conversations_thread_key": ("conversations", "thread_key"),
    "ix_conversations_assistant_status": ("conversations", "assistant_status"),
    "ix_conversations_assistant_quiet_check_at": ("conversations", "assistant_quiet_check_at"),
    "ix_contacts_tombstone_id": ("contacts", "tombstone_id"),
}
NOW = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)


def _index_definitions(connection: Connection) -> dict[str, str]:
    """Each index of ``PARTIAL``: its CREATE INDEX text as the database keeps it."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
        ).all()
    else:
        rows = connection.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes").all()
    return {name: " ".join(str(sql).split()) for name, sql in rows if name in PARTIAL}


def _downgrade(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "0008_outbox_pending")


async def test_the_indexes_are_partial_and_the_downgrade_makes_them_full(
    store_settings: RouterSettings,
):
    engine = build_engine(store_settings.database_url)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            partial = await connection.run_sync(_index_definitions)
        assert set(partial) == set(PARTIAL)
        for name, (_, column) in PARTIAL.items():
            assert partial[name].upper().endswith(f"WHERE ({column} IS NOT NULL)".upper()) or (
                partial[name].upper().endswith(f"WHERE {column} IS NOT NULL".upper())
            ), partial[name]

        async with engine.begin() as connection:
            await connection.run_sync(_downgrade)
        async with engine.connect() as connection:
            full = await connection.run_sync(_index_definitions)
        assert set(full) == set(PARTIAL)
        assert not any("WHERE" in sql.upper() for sql in full.values()), full

        await migrate(engine)  # and up again
        async with engine.connect() as connection:
            assert await connection.run_sync(_index_definitions) == partial
    finally:
        await engine.dispose()


async def _statement_of(engine: AsyncEngine, run: Any) -> tuple[str, Any]:
    """The SQL and parameters of the one statement ``run(uow)`` sends: through
    SQLAlchemy, or to the driver itself (the candidate read: its SQL from
    ``watching_driver``, its parameters as ``run.driver_keys`` says the store binds them)."""
    seen: list[tuple[str, Any]] = []
    driver: list[str] = []

    def keep(_conn, _cursor, statement, parameters, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    factory = UnitOfWorkFactory(engine)
    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        with factory.watching_driver(driver.append):
            async with factory.reader() as uow:
                await run(uow)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)
    sent = [(sql, params) for sql, params in seen if "SELECT 1" not in sql]
    if driver:
        [sql] = driver
        assert not sent, sent
        keys: list[str] = run.driver_keys
        return sql, (tuple(keys) if engine.dialect.name == "sqlite" else [keys])
    [statement] = sent
    return statement


def _literal(value: Any) -> str:
    """A parameter of the statement as a PostgreSQL literal for ``EXECUTE``."""
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(_literal(v) for v in value) + "]::varchar[]"
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'::timestamptz"
    return "'" + str(value).replace("'", "''") + "'"


async def _plan(engine: AsyncEngine, sql: str, parameters: Any) -> str:
    """The plan the database makes for the statement: SQLite's query plan; PostgreSQL's
    generic plan of it prepared (what asyncpg's cached statement may run), sequential
    scans priced out so that an index is chosen wherever it can serve."""
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
            return "\n".join(str(row[-1]) for row in rows)
        await connection.exec_driver_sql("SET enable_seqscan = off")
        await connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        await connection.exec_driver_sql(f"PREPARE reader AS {sql}")
        arguments = ", ".join(_literal(value) for value in parameters)
        execute = f"EXECUTE reader({arguments})" if arguments else "EXECUTE reader"
        rows = await connection.exec_driver_sql(f"EXPLAIN {execute}")
        plan = "\n".join(str(row[0]) for row in rows)
        await connection.rollback()
        return plan


async def _candidates_by_threads(uow: Any) -> None:
    await uow.conversations.candidates(threads=_candidates_by_threads.driver_keys)  # type: ignore[attr-defined]


async def _candidates_by_calls(uow: Any) -> None:
    await uow.conversations.candidates(calls=_candidates_by_calls.driver_keys)  # type: ignore[attr-defined]


#: the keys the candidate reads send to the driver (``_statement_of``)
_candidates_by_threads.driver_keys = ["whatsapp:t1", "whatsapp:t2"]  # type: ignore[attr-defined]
_candidates_by_calls.driver_keys = ["cti:g1"]  # type: ignore[attr-defined]


async def _quiet_check_due(uow: Any) -> None:
    await uow.conversations.quiet_check_due(NOW)


async def _assistant_report(uow: Any) -> None:
    await uow.session.execute(
        select(Conversation.assistant_status, sa.func.count())
        .where(Conversation.assistant_status.is_not(None))
        .group_by(Conversation.assistant_status)
    )


async def _by_tombstone(uow: Any) -> None:
    await uow.session.execute(select(Contact.id).where(Contact.tombstone_id == "tomb_x"))


@pytest.mark.parametrize(
    ("reader", "indexes"),
    [
        (_candidates_by_threads, {"ix_conversations_thread_key"}),
        (_candidates_by_calls, {"ix_conversations_call_group_key"}),
        (
            _quiet_check_due,
            {"ix_conversations_assistant_quiet_check_at", "ix_conversations_assistant_status"},
        ),
        (_assistant_report, {"ix_conversations_assistant_status"}),
        (_by_tombstone, {"ix_contacts_tombstone_id"}),
    ],
)
async def test_each_reader_still_uses_its_partial_index(engine: AsyncEngine, reader, indexes):
    sql, parameters = await _statement_of(engine, reader)
    plan = await _plan(engine, sql, parameters)
    assert any(index in plan for index in indexes), plan


async def test_candidates_by_thread_key_find_the_chat_not_the_mail(engine: AsyncEngine):
    """The candidate read with its ``IS NOT NULL`` finds by thread key what it found before."""
    async with engine.begin() as connection:
        await connection.execute(sa.insert(Contact.__table__), [{"id": "c1", "created_at": NOW}])
        base = {
            "contact_id": "c1",
            "channel": "email",
            "provider": "imap",
            "integration": "support",
            "status": "queued",
            "queue": "general",
            "priority": "normal",
            "opened_at": NOW,
            "last_activity_at": NOW,
        }
        await connection.execute(
            sa.insert(Conversation.__table__),
            [
                {**base, "id": "mail", "reference": "C-1", "thread_key": None},
                {**base, "id": "chat", "reference": "C-2", "thread_key": "whatsapp:t1"},
            ],
        )
    async with UnitOfWorkFactory(engine).reader() as uow:
        repository: ConversationRepository = uow.conversations
        found = await repository.candidates(threads=["whatsapp:t1", "whatsapp:t2"])
        assert [c.id for c in found] == ["chat"]


def _contact_channel_columns(connection: Connection) -> list[str]:
    [index] = [
        i
        for i in sa.inspect(connection).get_indexes("conversations")
        if i["name"] == "ix_conversations_contact_channel"
    ]
    return list(index["column_names"])


async def test_the_contact_channel_index_holds_no_last_activity(store_settings: RouterSettings):
    """A repeat customer's message changes ``last_activity_at``: kept out of the index, its
    UPDATE moves no index entry (SQLite) and may stay a HOT update (PostgreSQL)."""
    engine = build_engine(store_settings.database_url)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_contact_channel_columns) == [
                "contact_id",
                "channel",
            ]
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade)
        async with engine.connect() as connection:
            assert await connection.run_sync(_contact_channel_columns) == [
                "contact_id",
                "channel",
                "last_activity_at",
            ]
    finally:
        await engine.dispose()

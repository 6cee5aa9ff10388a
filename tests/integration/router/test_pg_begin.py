"""PostgreSQL: the assignment lock goes with its transaction's BEGIN in one round trip
(``store/pg_begin.py``), and that transaction behaves as SQLAlchemy's own: it commits,
rolls back, holds the lock until it ends, and leaves nothing open behind a failure or a
cancellation; a connection gone still raises SQLAlchemy's error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.router.consumer import database_unavailable
from services.router.store.engine import build_engine, migrate
from services.router.store.pg_begin import BegunTransaction, begin_with
from services.router.store.unit_of_work import ASSIGNMENT_LOCK, UnitOfWorkFactory
from tools.testing.postgres import PostgresServer

pytestmark = pytest.mark.integration

HELD = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted"


@pytest.fixture
async def store(postgres_server: PostgresServer) -> AsyncIterator[tuple[UnitOfWorkFactory, str]]:
    url = postgres_server.create_database()
    engine = build_engine(url, pool_size=1)
    await migrate(engine)
    yield UnitOfWorkFactory(engine), url.replace("postgresql+asyncpg", "postgresql")
    await engine.dispose()


async def _adapter(uow) -> object:  # type: ignore[no-untyped-def]
    connection = await uow.session.connection()
    return connection.sync_connection.connection.dbapi_connection


async def test_the_lock_is_taken_with_begin_and_held_until_the_transaction_ends(store):
    uows, url = store
    admin = await asyncpg.connect(url)
    sent: list[str] = []
    try:
        with uows.watching_driver(sent.append):
            async with uows() as uow:
                await uow.serialise_assignment()
                assert isinstance((await _adapter(uow))._transaction, BegunTransaction)
                assert await admin.fetchval(HELD, ASSIGNMENT_LOCK) == 1
                await uow.session.execute(
                    text("INSERT INTO counters (name, value) VALUES ('kept', 1)")
                )
                await uow.commit()
        assert sent == [f"BEGIN; SELECT pg_advisory_xact_lock({ASSIGNMENT_LOCK})"]
        assert await admin.fetchval(HELD, ASSIGNMENT_LOCK) == 0
        async with uows() as uow:
            await uow.serialise_assignment()
            await uow.session.execute(
                text("INSERT INTO counters (name, value) VALUES ('dropped', 1)")
            )
            await uow.rollback()
        assert await admin.fetchval(HELD, ASSIGNMENT_LOCK) == 0
        names = await admin.fetch("SELECT name FROM counters ORDER BY name")
        assert [row["name"] for row in names] == ["kept"]
        async with uows() as uow:  # not first in its transaction: the ordinary statement
            await uow.session.execute(text("SELECT 1"))
            await uow.serialise_assignment()
            assert not isinstance((await _adapter(uow))._transaction, BegunTransaction)
            assert await admin.fetchval(HELD, ASSIGNMENT_LOCK) == 1
    finally:
        await admin.close()


async def test_a_cancelled_wait_for_the_lock_leaves_no_transaction_open(store):
    """Another replica holds the lock; the poll waiting for it is cancelled (shutdown,
    a timeout). Its connection goes back to the pool rolled back, not idle in a
    transaction that would take the lock later and keep it."""
    uows, url = store
    holder = await asyncpg.connect(url)
    admin = await asyncpg.connect(url)
    try:
        await holder.execute(f"BEGIN; SELECT pg_advisory_xact_lock({ASSIGNMENT_LOCK})")

        async def poll() -> None:
            async with uows() as uow:
                await uow.serialise_assignment()

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(poll(), timeout=0.3)
        await holder.execute("COMMIT")
        await asyncio.sleep(0.2)
        assert await admin.fetchval(HELD, ASSIGNMENT_LOCK) == 0
        in_transaction = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state LIKE 'idle in transaction%'"
        )
        assert in_transaction == 0
        async with uows() as uow:  # the pooled connection works as before
            await uow.serialise_assignment()
            assert await admin.fetchval(HELD, ASSIGNMENT_LOCK) == 1
            await uow.commit()
    finally:
        await holder.close()
        await admin.close()


@pytest.mark.parametrize("ended_by", ["client", "server"])
async def test_a_connection_gone_raises_sqlalchemys_error(store, ended_by):
    """The connection is closed (the client saw it: no combined query) or the server
    ended it (the combined query fails on it): the ordinary statement then raises as
    before, an error the consumer takes for the database being unavailable (wait and
    retry, not a bad record)."""
    uows, url = store
    async with uows() as uow:
        await uow.session.connection()
        adapter = await _adapter(uow)
        if ended_by == "client":
            adapter._connection.terminate()
        else:
            admin = await asyncpg.connect(url)
            try:
                pid = adapter._connection.get_server_pid()
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            finally:
                await admin.close()
        with pytest.raises(DBAPIError) as raised:
            await uow.serialise_assignment()
    assert database_unavailable(raised.value)
    async with uows() as uow:  # the pool replaced the connection
        await uow.serialise_assignment()
        await uow.commit()


async def test_a_failing_combined_query_is_rolled_back_and_left_to_the_ordinary_way(store):
    uows, _ = store
    async with uows() as uow:
        assert not await begin_with(uow.session, "SELECT 1 / 0")
        adapter = await _adapter(uow)
        assert adapter._transaction is None
        assert not adapter._connection.is_in_transaction()  # rolled back, not aborted
        assert (await uow.session.execute(text("SELECT 2"))).scalar() == 2
        assert await begin_with(uow.session, "SELECT 1") is False  # one has begun now

"""PostgreSQL: the router's pooled connections are not pinged at checkout (three round
trips each), yet a connection the server closed is replaced before anyone uses it
(``store/engine.py`` ``_drop_closed``)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from services.router.store.engine import build_engine
from tools.testing.postgres import PostgresServer

pytestmark = pytest.mark.integration


async def test_a_connection_the_server_closed_is_replaced_at_checkout(
    postgres_server: PostgresServer,
):
    url = postgres_server.create_database()
    engine = build_engine(url, pool_size=1)
    try:
        async with engine.connect() as connection:
            first = await connection.scalar(text("SELECT pg_backend_pid()"))
        # the server ends that session (as a restart or an idle timeout would)
        admin = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        await asyncio.sleep(0.2)  # the event loop reads the closed socket
        async with engine.connect() as connection:
            second = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
    finally:
        await engine.dispose()


async def test_a_live_pooled_connection_is_checked_out_without_a_round_trip(
    postgres_server: PostgresServer,
):
    """SQLAlchemy's ``pool_pre_ping`` would send BEGIN, an empty query and ROLLBACK at
    each checkout; asyncpg's query logger sees those (simple queries and unprepared
    statements), not the prepared statement itself."""
    url = postgres_server.create_database()
    engine = build_engine(url, pool_size=1)
    sent: list[str] = []
    try:
        async with engine.connect() as connection:
            first = await connection.scalar(text("SELECT pg_backend_pid()"))
            raw = (await connection.get_raw_connection()).driver_connection
            raw.add_query_logger(lambda logged: sent.append(logged.query))
        sent.clear()
        async with engine.connect() as connection:
            again = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert again == first  # the pooled connection, reused
        # the statement's own transaction only: no ping's BEGIN, empty query, ROLLBACK
        assert [q.split()[0].rstrip(";") for q in sent] == ["BEGIN", "ROLLBACK"], sent
    finally:
        await engine.dispose()

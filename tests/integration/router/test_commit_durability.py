"""The router's commits survive a crash of PostgreSQL: its sessions ask for
``synchronous_commit=on``, and the check it logs at start-up sees the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.router.consumer import commits_survive_a_crash
from services.router.store.engine import build_engine
from tools.testing.postgres import PostgresServer

pytestmark = pytest.mark.integration


async def test_postgres_with_synchronous_commit_off_is_reported(postgres_server: PostgresServer):
    assert not postgres_server.crash_safe  # the fast test server: synchronous_commit=off
    engine = create_async_engine(postgres_server.create_database())  # not the router's engine
    try:
        assert not await commits_survive_a_crash(engine)
    finally:
        await engine.dispose()


async def test_the_routers_engine_commits_durably_on_a_server_that_would_not(
    postgres_server: PostgresServer,
):
    assert not postgres_server.crash_safe
    engine = build_engine(postgres_server.create_database())
    try:
        assert await commits_survive_a_crash(engine)
    finally:
        await engine.dispose()


async def test_postgres_with_synchronous_commit_on_for_the_database_passes(
    postgres_server: PostgresServer,
):
    url = postgres_server.create_database()
    name = url.rsplit("/", 1)[1]
    engine = build_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = on'))
            await connection.commit()
        await engine.dispose()  # new connections pick the database's setting up
        assert await commits_survive_a_crash(engine)
    finally:
        await engine.dispose()


async def test_sqlite_passes(tmp_path: Path):
    engine = build_engine(f"sqlite+aiosqlite:///{tmp_path / 'router.db'}")
    try:
        assert await commits_survive_a_crash(engine)
    finally:
        await engine.dispose()

"""The fault suite's PostgreSQL keeps what it acknowledged through its crash stop.

Cause of a rare loss in ``test_postgres_stop_and_restart``: the test server ran with
``synchronous_commit=off``, so the immediate-mode stop (a crash) took back routing the
router had been told was committed; the router had committed those records' Kafka
offsets, so they were never routed. A production server (``synchronous_commit=on``)
does not do that, and neither may the server the suite crashes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from tests.faults.infra import start_postgres, stop_postgres
from tools.testing.postgres import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CRASHES = 5


@pytest.fixture
def crash_safe() -> Iterator[PostgresServer]:
    server = PostgresServer(crash_safe=True).start()
    yield server
    server.stop()


@pytest.fixture
def fast() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()


async def test_a_crash_keeps_every_acknowledged_commit(crash_safe: PostgresServer):
    assert await _survivors_of_crashes(crash_safe) == list(range(CRASHES))


async def test_without_crash_safety_a_crash_takes_acknowledged_commits_back(
    fast: PostgresServer,
):
    """The control: the check above can see a loss (each commit is crashed within
    milliseconds, before the WAL writer's next round writes it)."""
    assert len(await _survivors_of_crashes(fast)) < CRASHES


async def _survivors_of_crashes(server: PostgresServer) -> list[int]:
    """Commit a row, crash the server at once (the suite's stop), start it; repeat.
    Returns the rows there after the last start."""
    connection = await _connect(server)
    await connection.execute("CREATE TABLE acknowledged (n int PRIMARY KEY)")
    await connection.execute("CHECKPOINT")  # the table itself is not what is tested
    await connection.close()
    for n in range(CRASHES):
        connection = await _connect(server)
        await connection.execute("INSERT INTO acknowledged VALUES ($1)", n)  # autocommit
        await connection.close()
        await asyncio.to_thread(stop_postgres, server)
        await asyncio.to_thread(start_postgres, server)
    connection = await _connect(server)
    try:
        return [row["n"] for row in await connection.fetch("SELECT n FROM acknowledged ORDER BY n")]
    finally:
        await connection.close()


async def _connect(server: PostgresServer) -> asyncpg.Connection:
    return await asyncpg.connect(
        host="127.0.0.1", port=server.port, user="postgres", database="postgres"
    )

"""PostgreSQL: the routing tables the server never analyzed are analyzed once they hold
rows (``planner_statistics.StatisticsKeeper``), and a poll's candidate conversations are
then read through their indexes, not by a scan of every conversation."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.router.service.agents import seed_agents
from services.router.service.context import RouterContext
from services.router.service.interactions import Incoming, route_batch
from services.router.store.planner_statistics import (
    ROUTING_TABLES,
    StatisticsKeeper,
    table_sizes,
)
from services.router.store.repositories import _candidate_sql
from tests.helpers.interactions import telegram_chat

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("postgres_only")]


@pytest.fixture
def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's planner needs no statistics to use the indexes")


def _engine(ctx: RouterContext) -> AsyncEngine:
    return ctx.uow.engine


async def _route_chats(ctx: RouterContext, clock: Any, count: int) -> None:
    await seed_agents(ctx)
    for start in range(0, count, 200):
        await route_batch(
            ctx,
            [
                Incoming(f"stats-{n}", telegram_chat(clock(), f"customer{n}", f"thread{n}"))
                for n in range(start, min(start + 200, count))
            ],
        )


#: the routed conversations copied, each 40 times with other keys (and another channel,
#: so that their contacts' recent chats are the routed ones): enough rows that an index
#: read beats a scan once the planner knows how many there are
_MORE_CONVERSATIONS = """
INSERT INTO conversations
SELECT (jsonb_populate_record(NULL::conversations, to_jsonb(c) || jsonb_build_object(
    'id', md5(c.id || '/' || g)::uuid::text,
    'reference', left(md5(c.reference || '/' || g), 20),
    'thread_key', 'telegram:copy-' || md5(c.id || '/' || g),
    'channel', 'email')
)).*
FROM conversations c, generate_series(1, 40) g
"""


async def _candidate_plan(database_url: str, clock: Any) -> str:
    """EXPLAIN of a poll's candidate read (ids, thread keys, recent conversations of
    contacts) as the router sends it, keys of rows that exist and of rows that do not."""
    sql = _candidate_sql(("ids", "threads", "recent"), None)
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        ids = [r["id"] for r in await connection.fetch("SELECT id FROM conversations LIMIT 50")]
        contacts = [
            r["contact_id"]
            for r in await connection.fetch("SELECT contact_id FROM conversations LIMIT 50")
        ]
        threads = [f"telegram:none-{n}" for n in range(50)]
        rows = await connection.fetch(
            "EXPLAIN " + sql, ids, threads, contacts, ["chat"], clock() - timedelta(days=1)
        )
    finally:
        await connection.close()
    return "\n".join(r[0] for r in rows)


async def test_tables_with_rows_are_analyzed_once_and_reads_use_the_indexes(
    ctx: RouterContext, clock: Any, database_url: str
) -> None:
    engine = _engine(ctx)
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        # the suite's server runs for long: its autovacuum must not analyze them first
        for table in ROUTING_TABLES:
            await connection.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        await _route_chats(ctx, clock, 400)
        await connection.execute(_MORE_CONVERSATIONS)
    finally:
        await connection.close()
    before = {t.name: t for t in await table_sizes(engine)}
    assert set(before) == set(ROUTING_TABLES)
    assert before["conversations"].reltuples < 0  # a new database: never analyzed
    # what the router is protected from: the planner, guessing, scans them all
    assert "Seq Scan on conversations" in await _candidate_plan(database_url, clock)

    keeper = StatisticsKeeper(engine, interval_s=1.0)
    await keeper.check()  # attachments: none, so never analyzed, never settled
    assert {"conversations", "contacts", "contact_identities", "interactions"} <= set(
        keeper.analyzed
    )
    after = {t.name: t for t in await table_sizes(engine)}
    for name, size in after.items():
        assert size.reltuples >= 0 or size.pages == 0, name
    assert after["conversations"].reltuples >= 15_000

    plan = await _candidate_plan(database_url, clock)
    assert "Seq Scan on conversations" not in plan, plan
    assert "Index" in plan, plan

    analyzed = list(keeper.analyzed)
    await keeper.check()  # nothing left to analyze
    assert keeper.analyzed == analyzed


async def test_the_keeper_stops_when_told(ctx: RouterContext) -> None:
    stop = asyncio.Event()
    keeper = StatisticsKeeper(_engine(ctx), interval_s=0.05)
    task = asyncio.create_task(keeper.run(stop))
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, 5)

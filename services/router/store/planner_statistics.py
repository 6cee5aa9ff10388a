"""PostgreSQL: the routing tables analyzed once if the server never has.

A poll's reads find conversations and contacts by lists of keys (``= ANY($n)``, an OR of
such conditions). With statistics the planner probes each condition's index (a
BitmapOr); with none, it guesses every array matches much of the table and scans it all,
comparing each row with every key. Such a table has none until autovacuum's first
round reaches it (``autovacuum_naptime``, a minute by default): a new database, and one
after ``pg_upgrade`` or ``pg_restore``, which carry no statistics (before PostgreSQL 18).
In that time each poll's reads grow with the table: scratch timing of routed polls of
400 (``route_batch`` alone, ~7,000 conversations, pg_stat_statements, load ~12): the
candidate conversations' SELECT 27.0 ms a poll without statistics, 2.2 ms with; all the
server's statements of a poll 72 ms against 38.

So the router analyzes each routing table that has rows and was never analyzed
(``pg_class.reltuples`` is -1 until a first ANALYZE or VACUUM), once, and leaves the rest
to autovacuum. ``ANALYZE (SKIP_LOCKED)`` passes over a table autovacuum is analyzing;
ANALYZE takes a lock that no insert, update or read waits for. A role that does not own
the tables gets the server's warning and nothing else (logged, not raised).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

#: The tables a routed poll reads or writes (their foreign keys' checks read them too).
ROUTING_TABLES = (
    "conversations",
    "contacts",
    "contact_identities",
    "interactions",
    "message_ids",
    "sla_timers",
    "outbox",
    "outbox_pending",
    "attachments",
)
#: Pages (8 KB) a table needs before it is worth analyzing: ~100 conversations. The
#: planner scales the statistics' row count by the table's pages as it grows.
MIN_PAGES = 4
#: Once every routing table has statistics the check runs this much less often (a
#: restore or a TRUNCATE can take them away again).
SETTLED_FACTOR = 60

_UNANALYZED = text(
    "SELECT c.relname, c.reltuples, pg_relation_size(c.oid) / current_setting('block_size')::int"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname = ANY(:tables)"
)


class TableSize(NamedTuple):
    name: str
    #: -1: never analyzed nor vacuumed (PostgreSQL 14 and later)
    reltuples: float
    pages: int


def tables_to_analyze(tables: Iterable[TableSize], *, min_pages: int = MIN_PAGES) -> list[str]:
    """The tables never analyzed that hold at least ``min_pages`` pages, by name."""
    return sorted(t.name for t in tables if t.reltuples < 0 and t.pages >= min_pages)


def settled(tables: Iterable[TableSize]) -> bool:
    """Every routing table has statistics. Not while one is empty: a new database's are
    at the router's start, and their first rows come within seconds; a table that stays
    empty (no attachments) keeps the check at its interval, one catalog read."""
    return all(t.reltuples >= 0 for t in tables)


async def table_sizes(engine: AsyncEngine) -> list[TableSize]:
    async with engine.connect() as connection:
        rows = await connection.execute(_UNANALYZED, {"tables": list(ROUTING_TABLES)})
        return [TableSize(name, float(reltuples), int(pages)) for name, reltuples, pages in rows]


async def analyze_tables(engine: AsyncEngine, tables: list[str]) -> None:
    # names from ROUTING_TABLES only (tables_to_analyze filters the catalog by them)
    names = ", ".join(f'"{name}"' for name in tables if name in ROUTING_TABLES)
    async with engine.begin() as connection:
        await connection.execute(text(f"ANALYZE (SKIP_LOCKED) {names}"))


class StatisticsKeeper:
    """Checks every ``interval_s`` (``ROUTER_PG_STATISTICS_CHECK_S``) for routing tables
    with rows and no statistics, and analyzes them; ``SETTLED_FACTOR`` times less often
    once all have statistics. A failed check is logged and tried again later."""

    def __init__(self, engine: AsyncEngine, *, interval_s: float) -> None:
        self._engine = engine
        self._interval_s = interval_s
        self.analyzed: list[str] = []

    async def check(self) -> bool:
        """One check; True when every routing table has statistics after it."""
        sizes = await table_sizes(self._engine)
        wanted = tables_to_analyze(sizes)
        if wanted:
            await analyze_tables(self._engine, wanted)
            self.analyzed.extend(wanted)
            log.info(
                "PostgreSQL had no statistics for %s: analyzed (autovacuum keeps them after)",
                ", ".join(wanted),
            )
            sizes = await table_sizes(self._engine)
        return settled(sizes)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                settled = await self.check()
            except Exception as exc:  # a database outage: the next check tries again
                log.warning("planner statistics check failed: %r", exc)
                settled = False
            delay = self._interval_s * (SETTLED_FACTOR if settled else 1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

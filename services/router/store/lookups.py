"""The plain-value lookups every routed poll makes, by one list of keys.

A poll of a few interactions costs mostly its statements. On SQLite each statement
through SQLAlchemy's aiosqlite adapter is several hops to aiosqlite's thread (cursor,
execute, description, fetch, close) plus the execution context: ~150 µs of CPU; the
driver's ``execute_fetchall`` is one hop (~25 µs). These lookups return plain strings
and counts (no type processing), so on SQLite they go to the driver with the same SQL;
on PostgreSQL they run as the Core statement (asyncpg's path is already short).
``tests/integration/router/test_lookups.py`` holds the two equal on the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

#: where the SQLite text takes the keys: ``?, ?, …`` (one per key)
KEYS = "{keys}"


class Lookup:
    """One query: a Core statement with an expanding bind ``param`` for PostgreSQL, and
    the same query as SQLite text with ``{keys}`` where the keys go."""

    def __init__(self, statement: Select[Any], param: str, sqlite: str) -> None:
        if KEYS not in sqlite:
            raise ValueError(f"SQLite text without {KEYS}: {sqlite}")
        self.statement = statement
        self.param = param
        self.sqlite = sqlite

    async def rows(self, session: AsyncSession, keys: Sequence[object]) -> list[tuple[Any, ...]]:
        if session.bind.dialect.name != "sqlite":
            result = await session.execute(self.statement, {self.param: list(keys)})
            return [tuple(row) for row in result]
        connection = await session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        sql = self.sqlite.replace(KEYS, ", ".join("?" * len(keys)))
        return [tuple(row) for row in await raw.execute_fetchall(sql, list(keys))]

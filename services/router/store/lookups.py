"""The plain-value lookups every routed poll makes, by one list of keys.

A poll of a few interactions costs mostly its statements. Through SQLAlchemy each
statement pays its execution context and result processing plus the driver adapter's
hops: on SQLite several hops to aiosqlite's thread (cursor, execute, description, fetch,
close): ~150 µs of CPU, where the driver's ``execute_fetchall`` is one hop (~25 µs); on
PostgreSQL the asyncpg adapter's greenlet hops and its own prepared-statement cache. These
lookups return plain strings and counts (no type processing), so they go to the driver on
the unit of work's connection, inside its transaction: on SQLite the same SQL with one
``?`` per key, on PostgreSQL the same SQL with ``= ANY($1)`` taking the keys as one array
(one statement text whatever the number of keys: asyncpg prepares it once per
connection). ``tests/integration/router/test_lookups.py`` holds both equal to the Core
statement on the same rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Float, Select, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.sqlite_thread import in_thread
from services.router.store.bulk import driver_connection, sqlite_driver_of
from services.router.store.persistent import PersistentRows

T = TypeVar("T")

#: where the SQL takes the keys: ``IN ({keys})``
KEYS = "IN ({keys})"
#: SQLite: an ``IN`` list of up to this many keys has as many marks (``padded_count``)
EXACT_KEYS_UP_TO = 32


def padded_count(count: int) -> int:
    """SQLite: the marks (``?``) of an ``IN`` list of ``count`` keys: as many up to
    ``EXACT_KEYS_UP_TO``, else ``count`` rounded up to the next of 16 steps of its
    octave (a multiple of 2 ** (bits - 5): 390 -> 400, 400 -> 400, 150 -> 152), the keys
    padded by repeating the last one (``padded``).

    An ``IN`` list of each length is a statement of its own, so a backlog's poll
    compiled its lookups by identity, Message-ID, owner and candidate anew every poll
    (~2.2 K instructions a key in ``sqlite3_prepare_v2``, ~900 K a lookup of ~400 keys:
    3.5 M a poll of 400, ~9 K an interaction of aiosqlite's thread); padded, a few sizes
    recur and stay in sqlite3's statement cache. A key bound twice costs its binding and
    an insert into the list's ephemeral index, where an equal key is replaced: a
    duplicate selects nothing more. At most 1/16 more keys (1/32 on average)."""
    if count <= EXACT_KEYS_UP_TO:
        return count
    step = 1 << (count.bit_length() - 5)
    return -(-count // step) * step


def padded(keys: Sequence[object]) -> list[object]:
    """``keys`` as a list of ``padded_count`` keys, its last repeated (an ``IN`` list)."""
    wanted = padded_count(len(keys))
    listed = list(keys)
    if wanted > len(listed):
        listed.extend([listed[-1]] * (wanted - len(listed)))
    return listed


#: ``session.info`` key of the callables told the SQL of each statement sent to the
#: driver itself (``UnitOfWorkFactory.watching_driver``: SQLAlchemy's events miss them)
DRIVER_WATCHERS = "driver_watchers"


class Lookup:
    """One query: a Core statement with an expanding bind ``param`` (the reference the
    tests compare with), and the same query as SQL text with ``IN ({keys})`` where the
    keys go."""

    def __init__(
        self, statement: Select[Any], param: str, sql: str, *, postgres_keys: str = "= ANY($1)"
    ) -> None:
        """``postgres_keys``: what ``IN ({keys})`` becomes on PostgreSQL, taking the keys
        as the one array ``$1``."""
        if sql.count(KEYS) != 1:
            raise ValueError(f"SQL text without one {KEYS}: {sql}")
        self.statement = statement
        self.param = param
        self.sqlite = sql
        self.postgres = sql.replace(KEYS, postgres_keys)

    def sqlite_for(self, count: int) -> str:
        """The SQLite text for ``count`` keys (marks: ``count`` itself; ``padded``
        keys for a recurring text)."""
        return self.sqlite.replace(KEYS, f"IN ({', '.join('?' * count)})")

    async def rows(self, session: AsyncSession, keys: Sequence[object]) -> list[tuple[Any, ...]]:
        if session.bind.dialect.name == "sqlite":
            listed = padded(keys) if keys else []
            sql = self.sqlite_for(len(listed))
            rows = await (await sqlite_driver_of(session)).execute_fetchall(sql, listed)
            _sent(session, sql)
            return [tuple(row) for row in rows]
        raw = await driver_connection(await session.connection())
        if raw.is_in_transaction():
            sql = self.postgres
            rows = await raw.fetch(sql, list(keys))
        else:
            # SQLAlchemy's asyncpg adapter begins the unit of work's transaction with its
            # first statement: this lookup is it (a driver statement would run outside)
            result = await session.execute(self.statement, {self.param: list(keys)})
            return [tuple(row) for row in result]
        _sent(session, sql)
        return [tuple(row) for row in rows]


async def sqlite_rows(
    session: AsyncSession, sql: str, parameters: Sequence[object]
) -> Sequence[Any]:
    """SQLite: the rows of ``sql`` fetched by the driver in one hop, inside the unit of
    work's transaction."""
    rows = await (await sqlite_driver_of(session)).execute_fetchall(sql, parameters)
    _sent(session, sql)
    return rows  # type: ignore[no-any-return]


async def postgres_rows(session: AsyncSession, sql: str, *args: object) -> list[Any]:
    """PostgreSQL: the rows of ``sql`` (asyncpg ``Record``s) fetched by the driver on the
    unit of work's connection, inside its transaction (begun through SQLAlchemy first if
    no statement has begun it: a driver statement would run outside)."""
    raw = await driver_connection(await session.connection())
    if not raw.is_in_transaction():
        await (await session.connection()).exec_driver_sql("SELECT 1")
    rows = await raw.fetch(sql, *args)
    _sent(session, sql)
    return rows  # type: ignore[no-any-return]


def _sent(session: AsyncSession, sql: str) -> None:
    watchers: list[Callable[[str], None]] = session.info.get(DRIVER_WATCHERS, ())
    for watch in watchers:
        watch(sql)


class TrackedLoad:
    """SQLite: every row of ``model`` (ordered by ``order_by``) as ORM objects the session
    tracks, read by the driver in one hop. What ``session.scalars(select(model)...)``
    gives, without SQLAlchemy's per-query work (cache key, execution context, ORM
    loading: ~a quarter of a small poll's CPU for the agents it loads every poll). Each
    column's value goes through the column type's own result processor (the dialect's
    text-to-datetime, JSON, ``UtcDateTime``); an object the session already holds is
    returned as it is, as the ORM's load does. ``tests/integration/router/
    test_sqlite_hops.py`` holds the objects equal to the ORM's."""

    def __init__(self, model: type, order_by: str) -> None:
        self.model = model
        table = model.__table__  # type: ignore[attr-defined]
        self._mapper = inspect(model)
        self._columns = [(prop.key, prop.columns[0]) for prop in self._mapper.column_attrs]
        [self._key] = [key for key, column in self._columns if column.primary_key]
        names = ", ".join(f'"{column.name}"' for _, column in self._columns)
        self.sql = f'SELECT {names} FROM "{table.name}" ORDER BY "{order_by}"'  # noqa: S608
        self._processors: dict[str, list[tuple[str, Callable[[Any], Any] | None]]] = {}
        self._persistent: dict[str, PersistentRows] = {}

    @property
    def column_names(self) -> list[str]:
        """The table's column names, in the order of a row of ``sql``."""
        return [column.name for _, column in self._columns]

    @property
    def key_index(self) -> int:
        """Where the primary key is in a row of ``sql``."""
        return [key for key, _ in self._columns].index(self._key)

    async def all(self, session: AsyncSession) -> list[Any]:
        raw = await sqlite_driver_of(session)
        rows = await raw.execute_fetchall(self.sql, ())
        _sent(session, self.sql)
        return self.objects(session, rows)

    def objects(self, session: AsyncSession, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """The rows of ``sql`` as the session's tracked objects (``persistent``)."""
        dialect = session.bind.dialect
        persistent = self._persistent.get(dialect.name)
        if persistent is None:
            persistent = self._persistent[dialect.name] = PersistentRows(
                self._mapper, self._processors_for(dialect), self._key
            )
        return persistent.objects(session.sync_session, rows)

    def _processors_for(self, dialect: Dialect) -> list[tuple[str, Callable[[Any], Any] | None]]:
        processors = self._processors.get(dialect.name)
        if processors is None:
            processors = self._processors[dialect.name] = [
                (key, column.type.dialect_impl(dialect).result_processor(dialect, _coltype(column)))
                for key, column in self._columns
            ]
        return processors


#: PostgreSQL's type oid of double precision, which asyncpg returns as a Python float
_FLOAT8 = 701


def _coltype(column: Any) -> int | None:
    """The driver's type code a result processor is chosen by, where it matters: a
    float column (the migrations make it double precision) on asyncpg, whose numeric
    types pick their processor by it (none for float8); None for every other type."""
    return _FLOAT8 if isinstance(column.type, Float) else None


class ThreadReads:
    """SQLite: reads made one after another in the database thread, inside the unit of
    work's transaction, for ``in_one_hop``: a poll's independent lookups (and those that
    need only an earlier one's rows) cost one hop to the thread together."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self.sent: list[str] = []

    def rows(self, lookup: Lookup, keys: Sequence[object]) -> list[tuple[Any, ...]]:
        """``lookup.rows`` for ``keys``; no statement for no keys."""
        if not keys:
            return []
        listed = padded(keys)
        return self._fetch(lookup.sqlite_for(len(listed)), listed)

    def all_rows(self, load: TrackedLoad) -> list[tuple[Any, ...]]:
        """The rows of ``load.sql``, for ``load.objects`` back on the event loop."""
        return self._fetch(load.sql, [])

    def sql_rows(self, sql: str, parameters: Sequence[object]) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` (SQLite text, ``?`` per parameter): ``sqlite_rows``."""
        return self._fetch(sql, list(parameters))

    def _fetch(self, sql: str, parameters: list[object]) -> list[tuple[Any, ...]]:
        cursor = self._connection.execute(sql, parameters)
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        self.sent.append(sql)
        return [tuple(row) for row in rows]


async def in_one_hop(session: AsyncSession, reads: Callable[[ThreadReads], T]) -> T:
    """SQLite: ``reads(ThreadReads)`` in the database thread of ``session``'s
    transaction, one hop; its statements are told to ``watching_driver`` after."""
    raw = await sqlite_driver_of(session)
    sent: list[str] = []

    def run(connection: sqlite3.Connection) -> T:
        thread_reads = ThreadReads(connection)
        try:
            return reads(thread_reads)
        finally:
            sent.extend(thread_reads.sent)

    try:
        return await in_thread(raw, run)
    finally:
        for sql in sent:
            _sent(session, sql)

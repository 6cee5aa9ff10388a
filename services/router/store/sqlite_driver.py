"""The router's aiosqlite connection: each statement one hop to the database thread.

aiosqlite runs every call on its connection's own thread; each call is a "hop": a
future, a queue put, the worker's wake-up, ``call_soon_threadsafe`` and a self-pipe
write back to the event loop, and GIL hand-offs between the two threads. SQLAlchemy's
aiosqlite adapter makes a statement four of them (``cursor()``, ``execute``,
``fetchall``, ``close``), and a ``COMMIT``/``ROLLBACK`` one more even when there is no
transaction to end (the pool's reset of every connection it gets back). Measured on a
poll of one interaction: ~23 hops, ~3.5 CPU-ms a poll, of which the SQL is a small
part (``python -m bench.router_poll_cpu`` prints the hops per poll).

``OneHopConnection`` is aiosqlite's connection with:

- ``cursor()`` without a hop: the sqlite3 cursor is made, used, read to the end and
  closed inside one hop by ``execute``/``executemany``, which keep its description,
  row count, last row id and rows for the adapter to read without further hops.
  The router reads no result set large enough for buffering it to matter (it never
  streams; a 500-interaction poll's candidate conversations are its largest read,
  and SQLAlchemy's adapter buffered every result whole already);
- ``commit()``/``rollback()`` that hop only when a transaction is open: sqlite3's own
  ``commit``/``rollback`` do nothing otherwise (``sqlite3_get_autocommit``), so the
  outcome is the same without the round trip;
- ``run(fn)``: ``fn(sqlite3_connection)`` in the thread, one hop (the unit of work's
  whole flush and COMMIT, ``store/unit_of_work.py``).

It relies on aiosqlite's ``Connection._execute`` and ``_conn`` (the thread's queue
and the sqlite3 connection; ``libs/common/sqlite_thread.py``), which aiosqlite's own
methods are built on;
``tests/integration/router/test_sqlite_hops.py`` holds the hop count of a poll and the
stored rows to the plain driver's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

import aiosqlite

from libs.common.sqlite_thread import in_thread

T = TypeVar("T")
#: aiosqlite's default: rows per chunk of its async iteration (unused by the adapter)
ITER_CHUNK_SIZE = 64


class OneHopConnection(aiosqlite.Connection):
    #: hops to the thread so far (tests hold a poll's count)
    hops = 0

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.hops += 1
        return await super()._execute(fn, *args, **kwargs)

    def cursor(self) -> _OneHopCursor:  # type: ignore[override]
        # aiosqlite's returns an awaitable context manager; so does this, without a hop
        return _OneHopCursor(self)

    async def commit(self) -> None:
        if self._conn.in_transaction:
            await self._execute(self._conn.commit)

    async def rollback(self) -> None:
        if self._conn.in_transaction:
            await self._execute(self._conn.rollback)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await in_thread(self, fn)


async def connect(database: str, **kwargs: Any) -> OneHopConnection:
    """What ``aiosqlite.connect`` does, with ``OneHopConnection``; ``kwargs`` go to
    ``sqlite3.connect``. The thread is a daemon, as SQLAlchemy makes aiosqlite's own
    (a connection never closed must not keep the process alive at exit)."""
    connection = OneHopConnection(partial(sqlite3.connect, database, **kwargs), ITER_CHUNK_SIZE)
    connection._thread.daemon = True
    return await connection  # type: ignore[no-any-return]


class _OneHopCursor:
    """The part of aiosqlite's ``Cursor`` SQLAlchemy's adapter uses; each statement
    is one hop (cursor, statement, rows and close together)."""

    __slots__ = ("_connection", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, connection: OneHopConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.arraysize = 1
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    def __await__(self) -> Any:  # ``await connection.cursor()``, as aiosqlite's
        return self._ready().__await__()

    async def _ready(self) -> _OneHopCursor:
        return self

    async def __aenter__(self) -> _OneHopCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def execute(
        self, sql: str, parameters: Sequence[Any] | dict[str, Any] | None = None
    ) -> _OneHopCursor:
        outcome = await self._connection.run(partial(_statement, sql, parameters or (), False))
        self._keep(outcome)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _OneHopCursor:
        outcome = await self._connection.run(partial(_statement, sql, parameters, True))
        self._keep(outcome)
        return self

    def _keep(self, outcome: tuple[Any, int, int | None, list[Any]]) -> None:
        self.description, self.rowcount, self.lastrowid, self._rows = outcome

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []  # the sqlite3 cursor was closed in its statement's hop

    async def setinputsizes(self, *_sizes: object) -> None:
        return None  # sqlite3's does nothing either


def _statement(
    sql: str, parameters: Any, many: bool, connection: sqlite3.Connection
) -> tuple[Any, int, int | None, list[Any]]:
    """In the database thread: run the statement, read its rows, close its cursor."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()

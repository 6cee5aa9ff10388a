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

A database file's WAL is checkpointed by a ``WalCheckpointer``: a thread and a
connection of its own, a PASSIVE checkpoint once a transaction with changes ended on
one of the file's connections and ``CHECKPOINT_ROWS`` rows changed since the last (at
most one a ``CHECKPOINT_INTERVAL_S``), so that the
writer's COMMIT does not checkpoint (``wal_autocheckpoint``, ``engine.py``, only as a
fallback far behind). In a backlog each poll's COMMIT had checkpointed (a poll writes
more than the 4 MB threshold): ~20 us of CPU and ~38 us of fsync an interaction on the
poll's path (``bench.router_poll_split``, 20,000 backlog, load ~9: the COMMIT 41.8 CPU
+ 50.6 asleep us an interaction with, 21.6 + 12.7 without any checkpoint). The
checkpoint's copying and fsyncs run without the GIL, beside the next poll's routing.
With this thread (20,000 backlog, two interleaved pairs against 3a95b21, load 10-11):
the COMMIT 46.3 / 49.3 -> 23.0 / 21.7 CPU-us and 59.0 / 44.3 -> 12.3 / 14.0 us asleep
an interaction, the whole commit hop's CPU + sleep in the thread 228 / 213 -> 153 / 172
us, 627 / 609 -> 652 / 785 routed a second, the router's CPU per 1,000 (this thread's
included) 0.464 / 0.478 -> 0.468 / 0.446; ~0.9 checkpoints a second, each complete.
A checkpoint never waits for the writer or readers (PASSIVE) and changes nothing a
reader or a crash sees: WAL frames stay the database until copied.

It relies on aiosqlite's ``Connection._execute`` and ``_conn`` (the thread's queue
and the sqlite3 connection; ``libs/common/sqlite_thread.py``), which aiosqlite's own
methods are built on;
``tests/integration/router/test_sqlite_hops.py`` holds the hop count of a poll and the
stored rows to the plain driver's.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

import aiosqlite

from libs.common.sqlite_thread import in_thread

log = logging.getLogger(__name__)
T = TypeVar("T")
#: aiosqlite's default: rows per chunk of its async iteration (unused by the adapter)
ITER_CHUNK_SIZE = 64
#: The least time between two of a ``WalCheckpointer``'s checkpoints: in a backlog a
#: checkpoint takes the WAL of ~4 polls (~2,000 frames of 8 KiB); fewer, larger
#: checkpoints copy a page written by several polls once. An idle router makes none.
CHECKPOINT_INTERVAL_S = 1.0
#: Rows changed (``total_changes``) since the last checkpoint before a commit makes one
#: due: about half a backlog poll's (a poll of 400 changes ~4,000). A paced router then
#: checkpoints every few seconds, not every second: each checkpoint syncs the WAL and the
#: database file whatever it copies.
CHECKPOINT_ROWS = 2_000

#: CPython's ``sqlite3`` (3.11) binds exactly ``int``, ``float``, ``str`` and ``bytearray``
#: parameters as they are; any other (``None``, ``bool``, ``bytes``, a ``str`` enum) goes
#: through its adaptation protocol, which first looks the (type, protocol) pair up in the
#: adapters' registry and, finding none, asks the protocol type for ``__adapt__``: a
#: type's getattr formats an ``AttributeError`` and the module clears it, ~3.3 K
#: instructions a parameter, in the database thread, holding the GIL. A routed
#: interaction binds ~14 ``None`` and ~1.2 ``bool`` (a poll of 400: 12,570 adaptations,
#: 13.5 % of the thread's instructions). An adapter registered for the type is found
#: first: ``None`` to ``None`` (``dict.get`` of an empty dict, a C call: bound as NULL,
#: as before) and ``bool`` to ``int`` (1 / 0, what a ``bool`` was bound as).
#: Callgrind, executemany of 10 parameters a row: 4,107 -> 1,954 instructions a ``None``
#: (an ``int`` 849, a ``str`` 1,510). The registry is the process's ``sqlite3`` module's:
#: every connection binds the same values as before, a little cheaper.
_NO_ADAPTATION: dict[object, object] = {}
sqlite3.register_adapter(type(None), _NO_ADAPTATION.get)
sqlite3.register_adapter(bool, int)


class WalCheckpointer:
    """PASSIVE checkpoints of one database file on a thread and connection of its own,
    once ``committed`` was called with ``min_rows`` rows ``changed`` since the last one,
    at most one every ``interval_s``."""

    def __init__(
        self,
        database: str,
        interval_s: float = CHECKPOINT_INTERVAL_S,
        *,
        min_rows: int = 0,
        uri: bool = False,
    ) -> None:
        self.database = database
        self.interval_s = interval_s
        self.min_rows = min_rows
        #: rows changed since the last checkpoint (a count for when to checkpoint: the
        #: file's connections' threads add to it without a lock)
        self.rows = 0
        self._uri = uri
        #: the file's connections using it (``connect``; the last one closes it)
        self.users = 0
        self.checkpoints = 0
        #: of those, the ones that copied the whole WAL (the next write may restart it)
        self.complete = 0
        self._due = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def changed(self, rows: int) -> None:
        self.rows += rows

    def committed(self) -> None:
        """A transaction with changes ended: a checkpoint is due once enough changed."""
        if self.rows >= self.min_rows:
            self._due.set()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the thread; closing its connection, the file's last, checkpoints the rest."""
        self._closing.set()
        self._due.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self.database, isolation_level=None, uri=self._uri)
        except sqlite3.Error as exc:  # the writers' fallback (wal_autocheckpoint) stays
            log.warning("WAL checkpoints of %s: cannot connect: %r", self.database, exc)
            return
        try:
            last = -self.interval_s
            while True:
                self._due.wait()
                # the interval since the last one (a close ends the wait)
                self._closing.wait(last + self.interval_s - time.monotonic())
                if self._closing.is_set():
                    return
                self._due.clear()  # commits from now on: the next checkpoint
                self.rows = 0
                try:
                    [(_busy, frames, copied)] = connection.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchall()
                    self.checkpoints += 1
                    self.complete += frames == copied
                except sqlite3.Error as exc:  # the next commit tries again
                    log.warning("WAL checkpoint of %s failed: %r", self.database, exc)
                last = time.monotonic()
        finally:
            connection.close()


#: database file -> its checkpointer, while a connection to it is open
_CHECKPOINTERS: dict[str, WalCheckpointer] = {}
_CHECKPOINTERS_LOCK = threading.Lock()


def checkpointer_of(database: str) -> WalCheckpointer | None:
    with _CHECKPOINTERS_LOCK:
        return _CHECKPOINTERS.get(database)


def _checkpointer_for(database: str, *, uri: bool) -> WalCheckpointer | None:
    """The file's checkpointer, one more user counted; None for an in-memory or a
    temporary database (no file another connection could open)."""
    if database in ("", ":memory:") or (
        uri and (database.startswith("file::memory:") or "mode=memory" in database)
    ):
        return None
    with _CHECKPOINTERS_LOCK:
        checkpointer = _CHECKPOINTERS.get(database)
        if checkpointer is None:
            checkpointer = WalCheckpointer(
                database, CHECKPOINT_INTERVAL_S, min_rows=CHECKPOINT_ROWS, uri=uri
            )
            _CHECKPOINTERS[database] = checkpointer
        checkpointer.users += 1
        return checkpointer


def _release(checkpointer: WalCheckpointer) -> WalCheckpointer | None:
    """One user fewer; the checkpointer to close when that was the last."""
    with _CHECKPOINTERS_LOCK:
        checkpointer.users -= 1
        if checkpointer.users > 0:
            return None
        if _CHECKPOINTERS.get(checkpointer.database) is checkpointer:
            del _CHECKPOINTERS[checkpointer.database]
        return checkpointer


class OneHopConnection(aiosqlite.Connection):
    #: hops to the thread so far (tests hold a poll's count)
    hops = 0
    #: the file's ``WalCheckpointer`` (None: an in-memory database)
    checkpointer: WalCheckpointer | None = None

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.hops += 1
        if self.checkpointer is None:
            return await super()._execute(fn, *args, **kwargs)
        # every hop (``run``, ``in_thread``'s callers: the flush's one hop, ``commit``)
        return await super()._execute(
            _noting_commits, self._conn, self.checkpointer, fn, *args, **kwargs
        )

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

    async def close(self) -> None:
        checkpointer, self.checkpointer = self.checkpointer, None  # the close: no hop noted
        try:
            await super().close()
        finally:
            last = _release(checkpointer) if checkpointer is not None else None
            if last is not None:
                await asyncio.to_thread(last.close)


def _noting_commits(
    connection: sqlite3.Connection,
    checkpointer: WalCheckpointer,
    fn: Callable[..., T],
    *args: Any,
    **kwargs: Any,
) -> T:
    """In the database thread: ``fn(*args, **kwargs)``, then the checkpointer told when a
    transaction with changes ended in it (the flush's writes and COMMIT in one hop, or
    ``commit``)."""
    began, changes = connection.in_transaction, connection.total_changes
    result = fn(*args, **kwargs)
    changed = connection.total_changes - changes
    if changed:
        checkpointer.changed(changed)
    if not connection.in_transaction and (began or changed):
        checkpointer.committed()
    return result


async def connect(database: str, **kwargs: Any) -> OneHopConnection:
    """What ``aiosqlite.connect`` does, with ``OneHopConnection``; ``kwargs`` go to
    ``sqlite3.connect``. The thread is a daemon, as SQLAlchemy makes aiosqlite's own
    (a connection never closed must not keep the process alive at exit). A file's
    connections share its ``WalCheckpointer``."""
    connection = OneHopConnection(partial(sqlite3.connect, database, **kwargs), ITER_CHUNK_SIZE)
    connection._thread.daemon = True
    opened: OneHopConnection = await connection
    opened.checkpointer = _checkpointer_for(database, uri=bool(kwargs.get("uri")))
    return opened


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

"""Run a function on an aiosqlite connection's own thread: one round trip.

aiosqlite runs every call on its connection's thread; each call is a round trip
(a future, a queue put, the worker's wake-up, ``call_soon_threadsafe`` back to the
loop), ~100 µs of CPU on these machines. SQLAlchemy's adapter makes a statement
four of them (cursor, execute, fetch, close). Work that sends several statements
in one transaction (the router's flush and grouped reads, the notifier's sent-log
poll) runs them here in one trip instead.

``Connection._execute`` and ``_conn`` are aiosqlite's own "run this in the thread"
and the sqlite3 connection, on which its public methods are built; this is the one
place the project relies on them (the router's and the notifier's round-trip tests
fail if a newer aiosqlite changes them).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")


async def in_thread(connection: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """``fn(the sqlite3 connection, *args)`` on ``connection``'s thread, in whatever
    transaction is open there."""
    db: sqlite3.Connection = connection._conn
    return await connection._execute(fn, db, *args)  # type: ignore[no-any-return]

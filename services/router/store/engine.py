"""Engine construction and migrations (built in the composition root only)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from functools import partial
from json.scanner import c_make_scanner  # type: ignore[attr-defined]
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, exc, inspect, text
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from services.router.store import sqlite_driver
from services.router.store.sqlite_driver import OneHopConnection

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The newest migration's revision (a unit test holds it to alembic's head). A store
#: already there starts without importing alembic: alembic, mako and the pygments
#: lexers alembic pulls in are ~10 MB of the router's RSS for a no-op upgrade.
SCHEMA_HEAD = "0012_without_rowid"
SQLITE_CACHED_STATEMENTS = 32
#: A new SQLite store's page size, and the WAL size that triggers a checkpoint (SQLite's
#: default 1,000 pages of its default 4,096 bytes): ``_sqlite_pragmas`` says why.
SQLITE_PAGE_SIZE = 8192
SQLITE_CHECKPOINT_BYTES = 1000 * 4096
#: With a file's ``sqlite_driver.WalCheckpointer`` the writers' COMMITs checkpoint only
#: past this much WAL: a fallback, should that thread fall far behind (it checkpoints
#: ~4 polls of a backlog, ~16 MB, a second).
SQLITE_WRITER_CHECKPOINT_BYTES = 64 * 1024 * 1024


def build_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        # Pooled, not a connection per transaction: opening one (a thread in aiosqlite,
        # the file, the pragmas, the schema read) cost ~4 ms of CPU, paid by every poll.
        # 32 prepared statements a connection, not sqlite3's 128: an IN list of each
        # length is a statement of its own, so the cache filled with one-off lookups
        # (~5 MB over a 30,000-interaction backlog; a poll's ~19 statements stay cached,
        # CPU per poll unchanged). Since stop 40 a backlog's poll sends ~26 (a run's
        # INSERTs of 64 and 16 rows, the lookups' padded lists: ``lookups.padded_count``),
        # and they stay cached too: 64 compiled no fewer (bench.router_db_thread_callgrind,
        # polls of 400: 219.8 against 219.0 M instructions of the thread, within a run's
        # first-seen sizes).
        # Each statement one hop to aiosqlite's thread, not four (``sqlite_driver.py``).
        # LIFO: the connection returned last is taken next. SQLite drops a connection's
        # whole page cache when its next transaction finds the database written by
        # another connection since its own last one; handed out in turn (the pool's FIFO
        # default) every poll's unit of work got the connection used least recently,
        # its cache stale, and read its pages again: 9.3 → 3.0 pread64 calls an
        # interaction routed (strace -c -f, 200/s paced, ~2,400 interactions each).
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_use_lifo=True,
            async_creator=_sqlite_connector(url),
            json_deserializer=json_loads,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # synchronous_commit=on for our sessions whatever the server's default: offsets are
    # committed after the poll's commit, so a commit the server could still take back
    # in a crash would lose those interactions (seen with "off" in the fault suite).
    # No pool_pre_ping: see _drop_closed.
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"server_settings": {"synchronous_commit": "on"}},
        json_deserializer=json_loads,
    )
    event.listen(engine.sync_engine, "checkout", _drop_closed)
    return engine


#: ``json.loads``' own C scanner with its default settings, made once
_SCAN_JSON = c_make_scanner(json.JSONDecoder())


def json_loads(text: Any) -> Any:
    """``json.loads(text)``, the JSON columns' reader on both stores (the engine's
    ``json_deserializer``: SQLAlchemy's JSON result processing on SQLite, the asyncpg
    connection's ``json`` codec on PostgreSQL). The stored text is what the router wrote:
    one value, no whitespace around it; that is read by the C scanner ``json.loads``
    ends in, without its three Python frames and two whitespace regex matches around it
    (5.0-6.0 → 0.9-2.6 µs a value; a loaded conversation has 5 JSON columns, a poll of
    500 loads ~190-290 candidate conversations). Any other text (whitespace around the
    value, more after it, not a value, not a str) goes to ``json.loads`` itself: the
    same value, or the same error."""
    if type(text) is str:
        try:
            value, end = _SCAN_JSON(text, 0)
        except StopIteration:  # no value at 0 (whitespace first, or none): json.loads says
            pass
        else:
            if end == len(text):
                return value
    return json.loads(text)


def _drop_closed(dbapi_connection, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: a pooled connection the server closed (a restart, a crash, an idle
    timeout) is replaced at checkout, without a round trip to the server.

    SQLAlchemy's ``pool_pre_ping`` on asyncpg costs three round trips per checkout (BEGIN,
    an empty query, ROLLBACK), paid by every poll and every relay round: at 1,000
    interactions/s ~9 ms of each relay round's ~20 ms of waiting on the server
    (``bench.router_throughput --trace``). A server that went away closed the socket, and
    asyncpg saw that as soon as the event loop read it (``is_closed()``); raising
    ``DisconnectionError`` here makes the pool discard the connection and check out
    another. A connection the network dropped silently is not seen, but the ping did not
    help there either (it waited like any statement)."""
    if dbapi_connection._connection.is_closed():
        raise exc.DisconnectionError("the server closed this pooled connection")


def _sqlite_connector(url: str) -> Callable[[], Awaitable[OneHopConnection]]:
    """Connects as SQLAlchemy's aiosqlite dialect would for ``url`` (its arguments to
    ``sqlite3.connect``), with ``OneHopConnection``."""
    [database], options = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
    options |= {"timeout": 30, "cached_statements": SQLITE_CACHED_STATEMENTS}
    return partial(sqlite_driver.connect, database, **options)


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    """WAL: readers (API, relay) beside the one writer. ``synchronous=FULL``: a commit
    is on disk before it returns. The consumer commits its Kafka offsets after the
    poll's commit; with WAL and NORMAL a commit can still roll back after a power loss
    or OS crash (https://www.sqlite.org/pragma.html#pragma_synchronous), and those
    interactions would be lost behind already-committed offsets. One fsync per poll
    (one transaction per poll) costs ~3.6 ms on the project's VM disk.

    ``cache_size`` stays SQLite's 2 MB: on a store of 100,000 conversations a poll of 500
    cost the same with 16 MB (216-235 against 224-244 CPU-ms, interleaved, load 5-6) for
    14.6 MB more peak RSS. What grows with the store is the database thread's work, not
    the cache: the main thread's ~113 ms per poll of 500 stays, the COMMIT's ~10 ms
    became ~60 ms with random keys (each of the poll's inserts dirtied its own index
    pages, all written to the WAL and checkpointed). ``python -m bench.store_growth``
    counts the WAL frames per poll by table and index: at ~105,000 conversations 5,537
    with uuid5 conversation and outbox ids, 2,247 with time-ordered ones
    (``libs/common/ids.time_ordered_id``); the database thread's CPU per poll 121 →
    64 ms, its COMMIT 59 → 19 CPU-ms (load 5-13). Most of what is left is the
    contacts' random ids (their key, ``ix_contact_identities_contact_id``,
    ``ix_conversations_contact_channel``) and the outbox's payload pages.

    ``page_size`` 8,192 for a new store (SQLite's default is 4,096; an existing store
    keeps its size: in WAL mode it cannot change without a VACUUM): a COMMIT writes each
    WAL frame, and a checkpoint copies each, with calls of their own, and a poll's
    appends (outbox, interactions, timers) fill whole pages. Polls of 500 at ~107,000
    conversations (``bench.store_growth --snapshot``, each page size's store grown
    alike, interleaved, load 4-6): WAL frames 1,040 → 573 (bytes +11 %), the database
    thread's CPU per poll 27.5-27.7 → 24.8-26.0 ms, its COMMIT 6.4-6.6 → 5.4-5.6 CPU-ms
    (with the checkpoint bytes kept, below). The cache stays 2 MB (``cache_size`` is
    set in KiB).

    Since stop 33 a database file's checkpoints are ``sqlite_driver.WalCheckpointer``'s,
    on a thread of its own, off the poll's COMMIT; a writer checkpoints only past
    ``SQLITE_WRITER_CHECKPOINT_BYTES``. Before (for a connection without one):
    ``wal_autocheckpoint`` stays ~4 MB of WAL (1,000 pages of 4,096 bytes; 500 of 8,192):
    a poll of 500 writes more than that, so
    each COMMIT checkpoints; 10,000 (a checkpoint every few polls) saved ~7 % of the
    database thread's CPU on average and made the COMMITs that do checkpoint ~2x
    longer (``bench.store_growth --autocheckpoint 10000``, load 9). Nor is it the p99 at
    1,000/s (polls of ~22, a checkpoint every ~20 polls, ~4-17 ms each on a fresh store):
    ``bench.router_throughput --trace`` measured 45-48 ms with it and 47-49 ms with
    ``wal_autocheckpoint=0`` (no checkpoint at all; two runs each, idle machine), the
    slowest poll 20-27 ms either way, so a checkpoint task off the poll path would not
    buy latency there. What had made that p99 80-142 ms was the bench's own garbage
    collector (``bench.common.bench_gc_paused``).

    ``temp_store=MEMORY``: a multi-row INSERT (``bulk.sqlite_inserts``, 64 or 16 rows a
    statement) into a table with a foreign key may fail part-way, so SQLite keeps a
    statement journal of the pages it changes (``bulk.SQLITE_INSERT_CONFLICT``), and
    past 64 KiB (16 new conversations touch more) it spilled to a temporary
    file: write calls in the database thread, ~15-20 us of system CPU an interaction
    more (polls of 400, ``getrusage`` of the write hop, load ~18). In memory it is
    copies of those pages. Only temporary data changes place: the WAL, its fsync at
    each COMMIT (``synchronous=FULL``) and what a crash leaves are as before (a statement
    journal only undoes its own statement, in a live transaction)."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # a new store only: before WAL
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA page_size")
    [page_size] = cursor.fetchone()
    checkpoint_bytes = SQLITE_CHECKPOINT_BYTES
    # the adapted aiosqlite connection (``sqlite_driver.OneHopConnection``) has one
    if getattr(getattr(dbapi_connection, "_connection", None), "checkpointer", None):
        checkpoint_bytes = SQLITE_WRITER_CHECKPOINT_BYTES  # checkpoints are its thread's
    cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoint_bytes // page_size}")
    cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config  # migrations only: see SCHEMA_HEAD

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command  # migrations only: see SCHEMA_HEAD

    command.upgrade(alembic_config(connection), "head")


def _revisions(connection: Connection) -> list[str]:
    """The revisions alembic recorded in the store (none in a new one)."""
    if not inspect(connection).has_table("alembic_version"):
        return []
    return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


async def schema_revisions(connection: AsyncConnection) -> list[str]:
    return await connection.run_sync(_revisions)


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together: one migrates, the others wait for it.
            await connection.execute(text("SELECT pg_advisory_xact_lock(7226457)"))
        if await schema_revisions(connection) != [SCHEMA_HEAD]:
            await connection.run_sync(_upgrade)


async def ping(engine: AsyncEngine) -> bool:
    async with asyncio.timeout(3), engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return True

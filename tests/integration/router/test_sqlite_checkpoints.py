"""The router's SQLite WAL checkpoints (``store/sqlite_driver.WalCheckpointer``) on real
files: a transaction with changes is checkpointed by the file's own thread, not by the
writer's COMMIT (its ``wal_autocheckpoint`` is only a far fallback); reads wake nothing;
the last connection's close stops the thread and leaves no WAL; what was committed is
all there after a reopen, checkpointed or not."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from libs.common.sqlite_thread import in_thread
from services.router.store import sqlite_driver
from services.router.store.engine import SQLITE_WRITER_CHECKPOINT_BYTES, build_engine
from services.router.store.sqlite_driver import WalCheckpointer, checkpointer_of

pytestmark = pytest.mark.integration


async def _until(predicate, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 - a thread's counter, not an event
            await asyncio.sleep(0.01)


async def test_a_commit_is_checkpointed_by_the_files_own_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_INTERVAL_S", 0.0)
    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_ROWS", 0)
    path = tmp_path / "store.db"
    engine = build_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (a INTEGER)"))
            page_size = (await connection.execute(text("PRAGMA page_size"))).scalar()
            fallback = (await connection.execute(text("PRAGMA wal_autocheckpoint"))).scalar()
        assert fallback == SQLITE_WRITER_CHECKPOINT_BYTES // page_size
        checkpointer = checkpointer_of(str(path))
        assert checkpointer is not None
        await asyncio.sleep(0.2)
        assert checkpointer.checkpoints == 0  # DDL changes no row: not a commit it hears of

        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (1), (2), (3)"))
        await _until(lambda: checkpointer.checkpoints == 1)

        async with engine.connect() as connection:  # reads: nothing to checkpoint
            await connection.execute(text("SELECT count(*) FROM t"))
        await asyncio.sleep(0.2)
        assert checkpointer.checkpoints == 1

        async with engine.begin() as connection:
            await connection.execute(text("UPDATE t SET a = a + 1"))
        await _until(lambda: checkpointer.checkpoints == 2)
    finally:
        await engine.dispose()
    assert checkpointer_of(str(path)) is None  # the last close stopped it
    # and its connection, the last, ended the WAL
    assert not await asyncio.to_thread(Path(f"{path}-wal").exists)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT sum(a) FROM t").fetchone() == (9,)


async def test_commits_within_the_interval_share_one_checkpoint_and_all_stay(tmp_path):
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("PRAGMA wal_autocheckpoint=0")
        setup.execute("CREATE TABLE t (a INTEGER)")
    writer = sqlite3.connect(path, check_same_thread=False)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    checkpointer = WalCheckpointer(str(path), interval_s=60.0)
    try:
        for n in range(5):
            writer.execute("INSERT INTO t VALUES (?)", (n,))
            writer.commit()
            checkpointer.committed()
        await _until(lambda: checkpointer.checkpoints == 1)  # the first at once
        await asyncio.sleep(0.3)
        assert checkpointer.checkpoints == 1  # the rest wait for the interval
    finally:
        await asyncio.to_thread(checkpointer.close)  # does not wait out the interval
        writer.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT count(*) FROM t").fetchone() == (5,)


async def test_an_in_memory_database_has_no_checkpointer():
    connection = await sqlite_driver.connect(":memory:")
    try:
        assert connection.checkpointer is None
    finally:
        await connection.close()


async def test_connections_to_one_file_share_its_checkpointer_until_the_last_closes(tmp_path):
    path = str(tmp_path / "store.db")
    first = await sqlite_driver.connect(path)
    second = await sqlite_driver.connect(path)
    try:
        assert first.checkpointer is second.checkpointer is checkpointer_of(path)
        assert first.checkpointer is not None and first.checkpointer.users == 2
        await first.close()
        assert checkpointer_of(path) is second.checkpointer
    finally:
        await second.close()
    assert checkpointer_of(path) is None


async def test_a_flush_committed_in_one_hop_wakes_it(tmp_path, monkeypatch):
    """The unit of work's flush and COMMIT go to the thread in one hop of their own
    (``sqlite_thread.in_thread``, as ``bulk.send_sqlite`` sends them), not through
    ``commit()``: such a hop wakes the checkpointer too; one that only reads does not."""
    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_INTERVAL_S", 0.0)
    monkeypatch.setattr(sqlite_driver, "CHECKPOINT_ROWS", 0)
    path = str(tmp_path / "store.db")
    connection = await sqlite_driver.connect(path)
    try:
        checkpointer = connection.checkpointer
        assert checkpointer is not None

        def write_and_commit(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO t VALUES (1)")
            db.commit()

        def read(db: sqlite3.Connection) -> None:
            db.execute("SELECT count(*) FROM t").fetchall()

        await in_thread(connection, lambda db: db.execute("CREATE TABLE t (a INTEGER)"))
        await in_thread(connection, write_and_commit)
        await _until(lambda: checkpointer.checkpoints == 1)
        await in_thread(connection, read)
        await asyncio.sleep(0.2)
        assert checkpointer.checkpoints == 1
    finally:
        await connection.close()


async def test_commits_make_a_checkpoint_due_only_once_enough_rows_changed(tmp_path):
    path = tmp_path / "store.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
    checkpointer = WalCheckpointer(str(path), interval_s=0.0, min_rows=10)
    try:
        checkpointer.changed(6)
        checkpointer.committed()
        await asyncio.sleep(0.2)
        assert checkpointer.checkpoints == 0  # 6 of 10 rows
        checkpointer.changed(4)
        checkpointer.committed()
        await _until(lambda: checkpointer.checkpoints == 1)
        assert checkpointer.rows == 0  # counted afresh
    finally:
        await asyncio.to_thread(checkpointer.close)

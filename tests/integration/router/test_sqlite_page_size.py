"""SQLite: a new store is made with 8 KiB pages, an existing one keeps its page size, and
either's writers checkpoint their WAL themselves only past the same 64 MB
(``engine._sqlite_pragmas``; the file's ``WalCheckpointer`` thread checkpoints it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from services.router.store.engine import SQLITE_WRITER_CHECKPOINT_BYTES, build_engine, migrate

pytestmark = pytest.mark.integration


async def _page_size_and_checkpoint(path: Path) -> tuple[int, int]:
    engine = build_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            [page_size] = (await connection.exec_driver_sql("PRAGMA page_size")).one()
            [pages] = (await connection.exec_driver_sql("PRAGMA wal_autocheckpoint")).one()
    finally:
        await engine.dispose()
    return page_size, pages


FALLBACK_PAGES_OF_8_KIB = SQLITE_WRITER_CHECKPOINT_BYTES // 8192


async def test_a_new_store_has_8_kib_pages_and_writers_checkpoint_only_past_64_mb(
    tmp_path: Path,
):
    assert await _page_size_and_checkpoint(tmp_path / "router.db") == (
        8192,
        FALLBACK_PAGES_OF_8_KIB,
    )
    # and keeps them when opened again
    assert await _page_size_and_checkpoint(tmp_path / "router.db") == (
        8192,
        FALLBACK_PAGES_OF_8_KIB,
    )


async def test_an_existing_store_keeps_its_page_size(tmp_path: Path):
    path = tmp_path / "router.db"
    made = sqlite3.connect(path)  # as a store made before: 4 KiB pages, in WAL mode
    made.execute("PRAGMA page_size=4096")
    made.execute("PRAGMA journal_mode=WAL")
    made.execute("CREATE TABLE earlier (id INTEGER PRIMARY KEY)")
    made.close()
    assert await _page_size_and_checkpoint(path) == (4096, 2 * FALLBACK_PAGES_OF_8_KIB)

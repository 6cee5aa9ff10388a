"""SQLite: units of work take the pooled connection returned last (``engine.build_engine``),
so the poll's unit of work keeps the connection whose page cache its last write left
valid, not the one used least recently (SQLite drops a connection's whole cache when the
database was written by another connection since its own last transaction)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from services.router.store.bulk import driver_connection
from services.router.store.engine import build_engine, migrate
from services.router.store.unit_of_work import UnitOfWorkFactory

pytestmark = pytest.mark.integration


async def test_each_unit_of_work_takes_the_connection_returned_last(tmp_path: Path):
    engine = build_engine(f"sqlite+aiosqlite:///{tmp_path / 'router.db'}")
    try:
        await migrate(engine)
        first, second = await engine.connect(), await engine.connect()  # two in the pool
        raw_first, raw_second = await driver_connection(first), await driver_connection(second)
        await first.close()
        await second.close()  # returned last
        factory = UnitOfWorkFactory(engine)
        for _ in range(3):  # a write, then reads and writes again: the same connection
            async with factory() as uow:
                assert await driver_connection(await uow.session.connection()) is raw_second
                await uow.session.execute(text("CREATE TABLE IF NOT EXISTS t (x)"))
                await uow.commit()
            async with factory.reader() as uow:
                assert await driver_connection(await uow.session.connection()) is raw_second
        assert raw_first is not raw_second
    finally:
        await engine.dispose()

"""The conversation counter: read by the driver and written by the unit of work's flush
(``CounterRepository.next_value``) on both stores; on PostgreSQL its row stays locked
from the read to the commit, so two transactions (two replicas) never take one number,
and a rolled-back transaction gives its numbers back."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.router.store.unit_of_work import UnitOfWorkFactory

pytestmark = pytest.mark.integration


async def stored(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        value = await connection.scalar(text("SELECT value FROM counters WHERE name = 'n'"))
    return int(value)


async def factory_with_first_number(engine: AsyncEngine) -> UnitOfWorkFactory:
    """Units of work on ``engine`` whose counter "n" has given its first number."""
    factory = UnitOfWorkFactory(engine)
    async with factory() as uow:
        assert await uow.counters.next_value("n") == 1
        await uow.commit()
    return factory


async def next_number(factory: UnitOfWorkFactory) -> int:
    """The counter's next number, taken in a transaction of its own."""
    async with factory() as uow:
        value = await uow.counters.next_value("n")
        await uow.commit()
        return value


async def blocked_reads(engine: AsyncEngine) -> int:
    """Counter reads waiting for a lock now (a transaction of its own each time: a
    transaction sees one snapshot of ``pg_stat_activity``)."""
    async with engine.connect() as admin:
        return int(
            await admin.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE 'SELECT value FROM counters%'"
                )
            )
        )


async def test_numbers_follow_on_and_roll_back(engine: AsyncEngine) -> None:
    factory = UnitOfWorkFactory(engine)
    async with factory() as uow:  # no row yet: inserted at 0, then updated
        assert [await uow.counters.next_value("n") for _ in range(3)] == [1, 2, 3]
        await uow.commit()
    assert await stored(engine) == 3
    async with factory() as uow:
        assert await uow.counters.next_value("n") == 4
        await uow.flush()  # written by a flush before the commit: still one row's value
        assert await uow.counters.next_value("n") == 5
        await uow.commit()
    assert await stored(engine) == 5
    async with factory() as uow:
        assert await uow.counters.next_value("n") == 6
        await uow.rollback()
    async with factory() as uow:
        assert await uow.counters.next_value("n") == 6
        await uow.commit()
    assert await stored(engine) == 6


async def test_a_second_transaction_waits_for_the_first_ones_number(
    engine: AsyncEngine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: the unit of work's write lock serialises")
    factory = await factory_with_first_number(engine)
    async with factory() as first:
        assert await first.counters.next_value("n") == 2
        waiting = asyncio.create_task(next_number(factory))
        # the second's read is blocked on the first's row lock (not merely not sent yet)
        while not await blocked_reads(engine):
            assert not waiting.done()
            await asyncio.sleep(0.01)
        await first.commit()
    assert await waiting == 3
    assert await stored(engine) == 3


async def test_a_counter_read_with_the_polls_first_read_is_not_read_again(
    engine: AsyncEngine,
) -> None:
    """``known_and_agents(counters=...)`` reads the counter in the poll's first read (on
    PostgreSQL row-locked there): the numbers follow on as ``next_value``'s own read gives
    them, with no statement of its own; a counter not stored yet is inserted as before."""
    factory = UnitOfWorkFactory(engine)
    async with factory() as uow:
        assert await uow.counters.next_value("n") == 1
        await uow.commit()
    for name, first in (("n", 2), ("fresh", 1)):
        sent: list[str] = []
        with factory.watching_driver(sent.append):
            async with factory() as uow:
                await uow.serialise_assignment()
                await uow.interactions.known_and_agents(["e1"], counters=uow.counters, counter=name)
                read = len(sent)
                assert [await uow.counters.next_value(name) for _ in range(2)] == [first, first + 1]
                if name == "n":
                    assert sent[read:] == []  # no counter read of its own
                await uow.commit()
        async with engine.connect() as connection:
            stored_value = await connection.scalar(
                text("SELECT value FROM counters WHERE name = :n"), {"n": name}
            )
        assert stored_value == first + 1
    async with factory() as uow:  # read in the first read, no number taken: unchanged
        await uow.interactions.known_and_agents([], counters=uow.counters, counter="n")
        await uow.commit()
    assert await stored(engine) == 3


async def test_the_polls_first_read_holds_the_counters_row_lock(engine: AsyncEngine) -> None:
    """PostgreSQL: the counter read in the poll's first read (``known_and_agents``) is
    row-locked from there to the commit, as ``next_value``'s own read was: another
    transaction's number waits for it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: the unit of work's write lock serialises")
    factory = await factory_with_first_number(engine)
    async with factory() as first:
        await first.serialise_assignment()
        await first.interactions.known_and_agents([], counters=first.counters, counter="n")
        waiting = asyncio.create_task(next_number(factory))
        while not await blocked_reads(engine):
            assert not waiting.done()
            await asyncio.sleep(0.01)
        assert await first.counters.next_value("n") == 2
        await first.commit()
    assert await waiting == 3
    assert await stored(engine) == 3

"""PostgreSQL, ``insert_together`` with runs to COPY: each run's rows are converted while
the server writes the run before (``BulkInserter._send_in_turn``). A failure, the
server's or a conversion's, surfaces once no statement is in flight: the transaction
rolls back as before and nothing of it is stored."""

from __future__ import annotations

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.router.store.bulk import BulkInserter
from services.router.store.models import Contact, OutboxRow
from tests.integration.router.test_bulk_insert import AT

pytestmark = pytest.mark.usefixtures("postgres_only")


@pytest.fixture
def postgres_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("insert_together is PostgreSQL's")


def contacts(ids: range) -> list[dict[str, object]]:
    return [{"id": f"k{n}", "display_name": None, "locale": "ko-KR", "created_at": AT} for n in ids]


def events(ids: range, occurred_at: object = AT) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"ev-{n}",
            "ce_type": "support.routing.interaction_routed.v1",
            "conversation_id": "c1",
            "occurred_at": occurred_at,
            "payload": "{}",
        }
        for n in ids
    ]


async def count(engine: AsyncEngine, model: type) -> int:
    async with AsyncSession(engine) as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


async def test_runs_in_turn_store_every_run_in_order(engine: AsyncEngine):
    inserter = BulkInserter(engine.dialect, copy_from=2)
    seen: list[str] = []
    inserter.watchers.append(seen.append)
    async with AsyncSession(engine) as session, session.begin():
        await session.execute(sa.text("SELECT 1"))
        groups = [
            (Contact.__table__, contacts(range(3))),
            (Contact.__table__, contacts(range(3, 4))),
        ]
        groups.append((OutboxRow.__table__, events(range(5))))
        await inserter.insert_together(session, groups)
    # the run of one contact is an executemany between two COPYs, in the groups' order
    assert seen[0] == "COPY contacts" and seen[2] == "COPY outbox" and "INSERT" in seen[1]
    assert await count(engine, Contact) == 4
    assert await count(engine, OutboxRow) == 5


async def test_a_run_the_server_refuses_rolls_back_the_whole_transaction(engine: AsyncEngine):
    inserter = BulkInserter(engine.dialect, copy_from=2)
    async with AsyncSession(engine) as session:
        await session.execute(sa.text("SELECT 1"))
        groups = [
            (Contact.__table__, contacts(range(3))),
            (Contact.__table__, contacts(range(2, 5))),  # k2 again: the COPY fails
            (OutboxRow.__table__, events(range(5))),
        ]
        with pytest.raises((asyncpg.UniqueViolationError, DBAPIError)):
            await inserter.insert_together(session, groups)
        await session.rollback()  # no statement in flight: the connection takes it
        assert await session.scalar(sa.text("SELECT 1")) == 1
    assert await count(engine, Contact) == 0
    assert await count(engine, OutboxRow) == 0


async def test_a_conversion_that_fails_waits_for_the_run_in_flight(engine: AsyncEngine):
    """The outbox's rows fail to convert (a time that is no datetime) while the
    contacts' COPY is in flight: that COPY is awaited (its rows are there in the
    transaction), then the conversion's error is raised, and the transaction rolls back
    on a connection with nothing in flight."""
    inserter = BulkInserter(engine.dialect, copy_from=2)
    async with AsyncSession(engine) as session:
        await session.execute(sa.text("SELECT 1"))
        groups = [
            (Contact.__table__, contacts(range(3))),
            (OutboxRow.__table__, events(range(5), occurred_at="yesterday")),
        ]
        with pytest.raises(AttributeError):  # str has no tzinfo
            await inserter.insert_together(session, groups)
        assert await session.scalar(sa.select(sa.func.count()).select_from(Contact)) == 3
        await session.rollback()
    assert await count(engine, Contact) == 0
    assert await count(engine, OutboxRow) == 0

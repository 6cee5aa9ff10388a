"""Migration 0010 on SQLite and PostgreSQL: the agents' loads are counted from one index
that holds (assignee, status, channel), read alone (SQLite: a covering index, grouped
in its order without a temporary B-tree), with the statuses summed per channel; the
downgrade puts the (assignee, status) index back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.router.settings import RouterSettings
from services.router.store import repositories
from services.router.store.engine import alembic_config, build_engine, migrate
from services.router.store.models import Agent, Contact, Conversation
from services.router.store.unit_of_work import UnitOfWorkFactory

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
NEW = "ix_conversations_assignee_status_channel"
OLD = "ix_conversations_assignee_status"


def _assignee_indexes(connection: Connection) -> dict[str, list[str]]:
    return {
        i["name"]: list(i["column_names"])
        for i in sa.inspect(connection).get_indexes("conversations")
        if i["name"] in (NEW, OLD)
    }


def _downgrade(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "0009_partial_indexes")


async def test_the_loads_index_holds_the_channel_and_the_downgrade_takes_it_out(
    store_settings: RouterSettings,
):
    engine = build_engine(store_settings.database_url)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            assert await connection.run_sync(_assignee_indexes) == {
                NEW: ["assignee_id", "status", "channel"]
            }
        async with engine.begin() as connection:
            await connection.run_sync(_downgrade)
        async with engine.connect() as connection:
            assert await connection.run_sync(_assignee_indexes) == {OLD: ["assignee_id", "status"]}
        await migrate(engine)  # and up again
        async with engine.connect() as connection:
            assert await connection.run_sync(_assignee_indexes) == {
                NEW: ["assignee_id", "status", "channel"]
            }
    finally:
        await engine.dispose()


async def _seed(engine: AsyncEngine) -> None:
    """Two agents' conversations in every status and two channels."""
    async with engine.begin() as connection:
        await connection.execute(sa.insert(Contact.__table__), [{"id": "c1", "created_at": NOW}])
        await connection.execute(
            sa.insert(Agent.__table__),
            [{"id": a, "name": a, "status_changed_at": NOW} for a in ("agent-a", "agent-b")],
        )
        base = {
            "contact_id": "c1",
            "provider": "imap",
            "integration": "support",
            "queue": "general",
            "priority": "normal",
            "opened_at": NOW,
            "last_activity_at": NOW,
        }
        rows = []
        layout = [
            ("agent-a", "email", "open", 3),
            ("agent-a", "email", "waiting_on_customer", 2),
            ("agent-a", "email", "resolved", 4),
            ("agent-a", "chat", "waiting_on_customer", 1),
            ("agent-b", "chat", "open", 2),
            ("agent-b", "chat", "resolved", 1),
            (None, "email", "open", 5),
        ]
        for assignee, channel, status, count in layout:
            for _ in range(count):
                n = len(rows)
                rows.append(
                    {
                        **base,
                        "id": f"conv-{n}",
                        "reference": f"C-{n}",
                        "channel": channel,
                        "status": status,
                        "assignee_id": assignee,
                    }
                )
        await connection.execute(sa.insert(Conversation.__table__), rows)


async def test_loads_sum_the_active_statuses_per_channel(engine: AsyncEngine):
    await _seed(engine)
    async with UnitOfWorkFactory(engine)() as uow:
        await repositories._KNOWN.rows(uow.session, ["begin"])  # PostgreSQL: in the transaction
        loads = await uow.conversations.loads(["agent-a", "agent-b", "agent-c"])
        assert dict(loads) == {"agent-a": {"email": 5, "chat": 1}, "agent-b": {"chat": 2}}
        core = await uow.session.execute(
            repositories._LOADS.statement, {"ids": ["agent-a", "agent-b", "agent-c"]}
        )
        assert dict(repositories._loads_by_agent(core)) == dict(loads)


async def test_the_loads_are_read_from_the_index_alone(engine: AsyncEngine):
    """SQLite: the covering index, in its order (a table read per open conversation and
    a temporary B-tree to group them cost 220 ms a lookup at 100,000 open conversations,
    20 ms without). PostgreSQL's generic plan of ``= ANY($1)`` does not know how many
    agents the array holds and reads by status there, as it did before (its own choice;
    ``test_lookups`` holds it to an index)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan")
    await _seed(engine)
    async with engine.connect() as connection:
        sql = repositories._LOADS.sqlite_for(2)
        rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", ("agent-a", "agent-b"))
        plan = "\n".join(str(row[-1]) for row in rows)
    assert f"USING COVERING INDEX {NEW}" in plan, plan
    assert "TEMP B-TREE" not in plan, plan

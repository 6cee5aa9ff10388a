"""Router migration 0006_router_bulk on SQLite and PostgreSQL: the covered indexes go,
the indexes that cover them stay, and the downgrade puts them back."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from services.router.settings import RouterSettings
from services.router.store.engine import alembic_config, build_engine, migrate

pytestmark = pytest.mark.integration

DROPPED = {
    "conversations": {"ix_conversations_contact_id", "ix_conversations_queue"},
    "sla_timers": {"ix_sla_timers_conversation_id"},
}
COVERING = {
    "conversations": {"ix_conversations_contact_channel", "ix_conversations_waiting"},
    "sla_timers": {"uq_timer_cycle"},
}


def _indexes(connection: Connection) -> dict[str, set[str]]:
    inspector = sa.inspect(connection)
    found = {}
    for table in DROPPED:
        names = {i["name"] for i in inspector.get_indexes(table)}
        names |= {u["name"] for u in inspector.get_unique_constraints(table)}
        found[table] = {n for n in names if n}
    return found


def _downgrade(connection: Connection) -> None:
    command.downgrade(alembic_config(connection), "0005_privacy")


async def test_covered_indexes_are_dropped_and_restored_by_the_downgrade(
    store_settings: RouterSettings,
):
    engine = build_engine(store_settings.database_url)
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            after = await connection.run_sync(_indexes)
        for table in DROPPED:
            assert not DROPPED[table] & after[table]
            assert COVERING[table] <= after[table]

        async with engine.begin() as connection:
            await connection.run_sync(_downgrade)
        async with engine.connect() as connection:
            before = await connection.run_sync(_indexes)
        for table in DROPPED:
            assert DROPPED[table] | COVERING[table] <= before[table]

        await migrate(engine)  # and up again
        async with engine.connect() as connection:
            assert await connection.run_sync(_indexes) == after
    finally:
        await engine.dispose()

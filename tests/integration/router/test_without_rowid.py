"""Migration 0012 on SQLite and PostgreSQL: a store with identities and Message-IDs is
upgraded (SQLite: the two tables rebuilt WITHOUT ROWID, their rows, index and foreign
keys kept; PostgreSQL: nothing changes) and downgraded (SQLite: rowid tables again, the
same rows)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection

from services.router.settings import RouterSettings
from services.router.store.engine import alembic_config, build_engine
from services.router.store.models import Contact, ContactIdentity, Conversation, MessageIndex

pytestmark = pytest.mark.integration

TABLES = ("contact_identities", "message_ids")
BEFORE = "0011_deferrable_foreign_keys"
AT = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)


def _to(revision: str) -> Any:
    def run(connection: Connection) -> None:
        if revision == "head":
            command.upgrade(alembic_config(connection), revision)
        else:
            command.downgrade(alembic_config(connection), revision)

    return run


def _seed(connection: Connection) -> None:
    """Two contacts, a conversation, their identities and Message-IDs (at 0011)."""
    connection.execute(
        sa.insert(Contact.__table__), [{"id": k, "created_at": AT} for k in ("k1", "k2")]
    )
    connection.execute(
        sa.insert(Conversation.__table__),
        [
            {
                "id": "c1",
                "reference": "C-1",
                "contact_id": "k1",
                "channel": "email",
                "provider": "imap",
                "integration": "support",
                "status": "open",
                "queue": "general",
                "priority": "normal",
                "opened_at": AT,
                "last_activity_at": AT,
            }
        ],
    )
    connection.execute(
        sa.insert(ContactIdentity.__table__),
        [
            {"kind": "email", "value": "a@x", "contact_id": "k1"},
            {"kind": "phone", "value": "+8210", "contact_id": "k2"},
        ],
    )
    connection.execute(
        sa.insert(MessageIndex.__table__),
        [{"message_id": m, "conversation_id": "c1"} for m in ("m1@x", "m2@x")],
    )


def _state(connection: Connection) -> dict[str, Any]:
    """Each table's rows, its definition and index names (SQLite: from sqlite_master;
    PostgreSQL: its columns and indexes from the catalog)."""
    state: dict[str, Any] = {}
    for table in TABLES:
        query = sa.text(f"SELECT * FROM {table}")  # noqa: S608 (the router's own tables)
        rows = sorted(tuple(row) for row in connection.execute(query))
        if connection.dialect.name == "sqlite":
            [(sql,)] = connection.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                {"t": table},
            ).all()
            indexes = connection.execute(
                sa.text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
                ),
                {"t": table},
            ).all()
        else:
            sql = connection.execute(
                sa.text(
                    "SELECT column_name, data_type FROM information_schema.columns"
                    " WHERE table_name = :t ORDER BY ordinal_position"
                ),
                {"t": table},
            ).all()
            indexes = connection.execute(
                sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"),
                {"t": table},
            ).all()
        state[table] = {"rows": rows, "table": sql, "indexes": sorted(map(tuple, indexes))}
    if connection.dialect.name == "sqlite":
        state["foreign_key_check"] = connection.execute(sa.text("PRAGMA foreign_key_check")).all()
    return state


def _made(state: dict[str, Any]) -> list[tuple[str, str]]:
    return [(name, sql) for name, sql in state["indexes"] if sql is not None]


async def test_the_tables_are_rebuilt_without_rowid_and_back(store_settings: RouterSettings):
    engine = build_engine(store_settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda c: command.upgrade(alembic_config(c), BEFORE))
            await connection.run_sync(_seed)
        async with engine.connect() as connection:
            before = await connection.run_sync(_state)
        async with engine.begin() as connection:
            await connection.run_sync(_to("head"))
        async with engine.connect() as connection:
            after = await connection.run_sync(_state)
        async with engine.begin() as connection:
            await connection.run_sync(_to(BEFORE))
        async with engine.connect() as connection:
            downgraded = await connection.run_sync(_state)
    finally:
        await engine.dispose()

    sqlite = engine.dialect.name == "sqlite"
    for table in TABLES:
        assert before[table]["rows"] and after[table]["rows"] == before[table]["rows"]
        assert downgraded[table]["rows"] == before[table]["rows"]
        # the indexes made by CREATE INDEX (SQLite: the primary key's own is the table's)
        assert _made(after[table]) == _made(before[table]) == _made(downgraded[table])
        if sqlite:
            assert f"sqlite_autoindex_{table}_1" in dict(before[table]["indexes"])
            assert f"sqlite_autoindex_{table}_1" not in dict(after[table]["indexes"])
            assert dict(downgraded[table]["indexes"]) == dict(before[table]["indexes"])
            assert "WITHOUT ROWID" not in before[table]["table"].upper()
            assert after[table]["table"].upper().rstrip().endswith("WITHOUT ROWID")
            assert "WITHOUT ROWID" not in downgraded[table]["table"].upper()
        else:
            assert after == before == downgraded
    if sqlite:
        assert after["foreign_key_check"] == downgraded["foreign_key_check"] == []
        # the foreign keys are the table's own still: enforced
        assert "REFERENCES contacts" in after["contact_identities"]["table"]
        assert "REFERENCES conversations" in after["message_ids"]["table"]

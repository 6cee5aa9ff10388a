"""A store already at the newest migration starts without alembic (issue #16: ~10 MB of
the router's RSS); a new store, and one behind, are migrated as before."""

from __future__ import annotations

import subprocess
import sys

import pytest

from services.router.store.engine import SCHEMA_HEAD, build_engine, schema_revisions

pytestmark = pytest.mark.integration

MIGRATE = """
import asyncio, sys
from services.router.store.engine import build_engine, migrate, schema_revisions

async def main(url):
    engine = build_engine(url)
    await migrate(engine)
    async with engine.connect() as connection:
        revisions = await schema_revisions(connection)
    await engine.dispose()
    print(",".join(revisions), "alembic" in sys.modules)

asyncio.run(main(sys.argv[1]))
"""


def _migrate_in_a_new_process(url: str) -> tuple[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", MIGRATE, url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    revisions, alembic_loaded = done.stdout.split()
    return revisions, alembic_loaded


async def test_a_new_store_has_no_revision(database_url: str):
    engine = build_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await schema_revisions(connection) == []
    finally:
        await engine.dispose()


def test_only_a_store_behind_the_newest_migration_loads_alembic(database_url: str):
    assert _migrate_in_a_new_process(database_url) == (SCHEMA_HEAD, "True")
    assert _migrate_in_a_new_process(database_url) == (SCHEMA_HEAD, "False")

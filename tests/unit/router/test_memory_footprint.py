"""What keeps the router's start-up footprint down (issue #16): the entry point loads
neither alembic (only a store behind the newest migration needs it) nor the provider
table (the router needs its reply limits only) nor asyncpg (SQLAlchemy's PostgreSQL
dialect loads it when the store is PostgreSQL) nor that dialect itself nor holidays'
every country, and those stand-ins stay true."""

from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory

from libs.providers.limits import MAX_TEXT_CHARS
from libs.providers.registry import PROVIDERS
from services.router.store.engine import SCHEMA_HEAD, alembic_config

NOT_LOADED = (
    "alembic",
    "libs.providers.registry",
    "httpx",
    "asyncpg",
    "sqlalchemy.dialects.postgresql",  # only a PostgreSQL store needs it (~2.3 MB)
    "holidays.countries",  # all ~250 countries (7.3 MB): see domain/public_holidays.py
)


def test_the_entry_point_loads_neither_alembic_nor_the_provider_table_nor_asyncpg():
    script = (
        "import sys, services.router.__main__\n"
        "from services.router.bootstrap import build_config\n"
        "from services.router.settings import RouterSettings\n"
        "build_config(RouterSettings())\n"  # the sample policies' calendar names KR
        f"print(' '.join(m for m in {NOT_LOADED!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert loaded.stdout.split() == []


def test_schema_head_is_the_newest_migration():
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_HEAD


def test_reply_limits_are_the_provider_tables():
    from_registry = {p.value: spec.capabilities.max_text_chars for p, spec in PROVIDERS.items()}
    assert from_registry == MAX_TEXT_CHARS

"""Router integration fixtures: the store on SQLite AND PostgreSQL, a movable clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.service.context import RouterContext
from services.router.settings import RouterSettings
from services.router.store.engine import build_engine, migrate
from tools.testing.postgres import PostgresServer, postgres_for_tests


class MovableClock:
    """The injectable clock: tests move time instead of sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, at: datetime) -> None:
        self.now = at.astimezone(UTC)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with postgres_for_tests() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'router.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(datetime(2026, 3, 4, 1, 0, tzinfo=UTC))  # Wed 10:00 KST


@pytest.fixture
def store_settings(database_url: str, tmp_path: Path) -> RouterSettings:
    """Settings for tests of the store alone (no broker involved)."""
    return _settings(database_url, tmp_path, KafkaSettings())


@pytest.fixture
async def engine(store_settings: RouterSettings) -> AsyncIterator[AsyncEngine]:
    """The migrated store alone, for tests of the store layer."""
    engine = build_engine(store_settings.database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def ctx(store_settings: RouterSettings, clock: MovableClock) -> AsyncIterator[RouterContext]:
    """The router on the store alone, no agents seeded (a module that needs them
    overrides this fixture with one that seeds them)."""
    engine = await open_store(store_settings)
    yield build_context(store_settings, engine, clock=clock)
    await engine.dispose()


@pytest.fixture
def router_settings(
    database_url: str, kafka_topics: KafkaSettings, tmp_path: Path
) -> RouterSettings:
    return _settings(database_url, tmp_path, kafka_topics)


def _settings(database_url: str, tmp_path: Path, kafka: KafkaSettings) -> RouterSettings:
    return RouterSettings(
        database_url=database_url,
        state_dir=tmp_path,
        kafka=kafka,
        consumer_group=f"router-{uuid.uuid4().hex[:8]}",
        csat_secret="integration-test-secret-0123456789",
        scheduler_interval_s=0.05,
        relay_interval_s=0.05,
        dev_mode=False,
        log_format="text",
    )

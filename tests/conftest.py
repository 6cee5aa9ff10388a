"""Fixtures shared by every test suite: a real Kafka broker and fresh topics.

The tiers (README "Tests") are chosen by marker: ``make test-fast`` runs every test
not marked ``integration``, ``e2e`` or ``browser``, so a test that starts a server
must carry the ``integration`` (or ``e2e``) marker; :func:`pytest_collection_modifyitems`
refuses one that does not, so the fast tier never waits for a broker.
"""

from __future__ import annotations

import contextlib
import faulthandler
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from libs.common.settings import KafkaSettings, TopicSettings
from tools.testing.kafka import BrokerUnderTest, broker_for_tests

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

#: Fixtures that start (or need) a real server: Kafka, Dovecot, PostgreSQL, SMTP.
SERVER_FIXTURES = frozenset(
    {"kafka_broker", "dovecot", "postgres_server", "smtp_server", "smtp_inbox", "servers"}
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("integration") is None
        and item.get_closest_marker("e2e") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests that use a real server must be marked integration or e2e (the fast tier"
            " skips those): " + ", ".join(unmarked[:10])
        )


CORPUS = SHARED / "corpus" / "email"


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM ends the run as Ctrl-C does, with the summary of what ran: `.ci/run` bounds
    the suite's time with it. (SIGINT would not do: a shell starts background jobs with it
    ignored, and Python then keeps it ignored.)"""
    signal.signal(signal.SIGTERM, _stop_the_run)


def _stop_the_run(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}: the run was stopped")


#: After the summary, the interpreter waits for every non-daemon thread (an aiosqlite
#: connection a test never closed, an executor job that never ends) and would do so until
#: CI kills the run. A normal exit takes well under a second.
EXIT_WATCHDOG_S = 120


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Past the summary, a process that does not end within ``EXIT_WATCHDOG_S`` prints every
    thread's stack (what it waits on) and exits with status 1."""
    faulthandler.dump_traceback_later(EXIT_WATCHDOG_S, exit=True, file=sys.__stderr__)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[BrokerUnderTest]:
    with broker_for_tests() as broker:
        yield broker


@pytest.fixture
def kafka_settings(kafka_broker: BrokerUnderTest) -> KafkaSettings:
    """Settings pointing at the real broker, with topic names unique to this test."""
    suffix = uuid.uuid4().hex[:10]
    topics = TopicSettings(
        interactions=f"t-{suffix}.interactions",
        routing=f"t-{suffix}.routing",
        notifications=f"t-{suffix}.notifications",
        deadletter=f"t-{suffix}.deadletter",
        assistant=f"t-{suffix}.assistant",
        privacy=f"t-{suffix}.privacy",
        partitions=3,
        replication_factor=1,
    )
    return KafkaSettings(
        bootstrap_servers=kafka_broker.bootstrap_servers, topics=topics, send_timeout_s=15
    )


@pytest.fixture
async def kafka_topics(kafka_settings: KafkaSettings) -> AsyncIterator[KafkaSettings]:
    """``kafka_settings`` with its four topics created on the broker, deleted afterwards.

    Deleting keeps the shared broker small: a broker restart (the outage tests)
    loads every partition it holds.
    """
    from libs.common.kafka.admin import create_topics, delete_topics

    await create_topics(kafka_settings)
    yield kafka_settings
    with contextlib.suppress(Exception):  # the broker may be down after an outage test
        await delete_topics(kafka_settings, kafka_settings.topics.all_names())

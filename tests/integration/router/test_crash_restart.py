"""The router killed (SIGKILL) mid-stream and restarted: no duplicate, no missing event."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from libs.common.events.routing import ConversationOpened, InteractionRouted
from libs.common.settings import KafkaSettings
from services.router.settings import RouterSettings
from services.router.store.engine import build_engine
from services.router.store.models import InteractionRecord, OutboxPending, OutboxRow
from tests.helpers.interactions import telegram_chat
from tests.integration.router.helpers import (
    WAIT_S,
    Published,
    RoutingReader,
    of_type,
    publish,
    published,
    routed_ids,
    unique,
)
from tools.testing.system import free_port

pytestmark = pytest.mark.integration


def stream(start: int, count: int) -> list[Published]:
    base = datetime.now(UTC) - timedelta(minutes=5)
    items = []
    for n in range(start, start + count):
        at = base + timedelta(milliseconds=n)
        customer = n % 40
        if n % 2:
            interaction = Interaction(
                channel=Channel.EMAIL,
                provider="imap",
                integration="support",
                occurred_at=at,
                received_at=at,
                customer=CustomerIdentity(email=f"c{customer}@example.com"),
                subject=f"question {customer}",
                body=MessageBody(text=f"message {n}"),
                thread=ThreadHints(
                    message_id=f"m{n}@c{customer}", references=[f"m{n - 80}@c{customer}"]
                ),
            )
        else:
            interaction = telegram_chat(at, str(customer), str(customer), f"채팅 {n}")
        items.append(published(interaction, event_id=f"crash-{n}"))
    return items


def router_env(settings: RouterSettings) -> dict[str, str]:
    kafka: KafkaSettings = settings.kafka
    return {
        **os.environ,
        "ROUTER_DATABASE_URL": settings.database_url,
        "ROUTER_HTTP_PORT": str(free_port()),
        "ROUTER_CONSUMER_GROUP": settings.consumer_group,
        "ROUTER_CONSUMER_MAX_BATCH": "10",
        "ROUTER_RELAY_BATCH": "25",
        "ROUTER_RELAY_INTERVAL_S": "0.05",
        "ROUTER_CSAT_SECRET": "crash-test-secret-0123456789",
        "ROUTER_DEV_MODE": "false",
        "ROUTER_LOG_LEVEL": "WARNING",
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_INTERACTIONS": kafka.topics.interactions,
        "KAFKA_TOPIC_ROUTING": kafka.topics.routing,
        "KAFKA_TOPIC_NOTIFICATIONS": kafka.topics.notifications,
        "KAFKA_TOPIC_DEADLETTER": kafka.topics.deadletter,
    }


async def start_router(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.router",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def outbox_state(url: str) -> tuple[set[str], int, int]:
    engine = build_engine(url)
    try:
        async with engine.connect() as connection:
            ids = set((await connection.scalars(select(OutboxRow.event_id))).all())
            unsent = await connection.scalar(select(func.count()).select_from(OutboxPending))
            interactions = await connection.scalar(
                select(func.count()).select_from(InteractionRecord)
            )
    finally:
        await engine.dispose()
    return ids, int(unsent or 0), int(interactions or 0)


async def test_killed_router_restarts_without_duplicates_or_gaps(router_settings):
    env = router_env(router_settings)
    before, during = stream(0, 300), stream(300, 200)
    await publish(router_settings.kafka, before)
    async with RoutingReader(router_settings.kafka) as reader:
        router = await start_router(env)
        try:
            await reader.wait_for(lambda evs: len(routed_ids(evs)) >= 30)
        finally:
            router.send_signal(signal.SIGKILL)  # no shutdown hooks, no final commit
            await router.wait()
        await publish(router_settings.kafka, during)  # the stream goes on while it is down
        router = await start_router(env)
        try:
            expected = {p.event_id for p in before + during}
            await reader.wait_for(lambda evs: routed_ids(evs) >= expected)
            await reader.drain()
        finally:
            router.send_signal(signal.SIGTERM)
            async with asyncio.timeout(WAIT_S):
                await router.wait()
        events = await reader.drain()

    per_interaction = Counter(e.interaction_id for e in of_type(events, InteractionRouted))
    assert set(per_interaction) == expected
    assert set(per_interaction.values()) == {1}  # exactly one decision per interaction
    opened = Counter(e.conversation.conversation_id for e in of_type(events, ConversationOpened))
    assert set(opened.values()) == {1}
    outbox_ids, unsent, stored = await outbox_state(router_settings.database_url)
    assert stored == 500
    assert unsent == 0
    assert {e.id for e in unique(events)} == outbox_ids  # every committed event, nothing else

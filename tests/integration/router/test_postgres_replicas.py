"""Two router replicas on one PostgreSQL database share the stream: every interaction
is routed once and no agent ever holds more than their capacity."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from libs.common.events.interaction import Interaction
from libs.common.events.routing import ConversationAssigned, InteractionRouted
from services.router.domain.assignment import AgentStatus
from services.router.runtime import RouterRuntime
from services.router.service.agents import set_agent_status
from services.router.settings import RouterSettings
from services.router.store.models import Agent, Conversation
from tests.helpers.interactions import telegram_chat
from tests.integration.router.helpers import RoutingReader, of_type, publish, published, routed_ids

pytestmark = pytest.mark.integration


def chat(n: int) -> Interaction:
    return telegram_chat(datetime.now(UTC), str(n % 60), str(n % 60))


async def test_two_replicas_route_once_and_respect_capacity(
    postgres_server, kafka_topics, tmp_path
):
    settings = RouterSettings(
        database_url=postgres_server.create_database(),
        state_dir=tmp_path,
        kafka=kafka_topics,
        consumer_group=f"replicas-{uuid.uuid4().hex[:8]}",
        consumer_max_batch=20,
        csat_secret="replica-test-secret-0123456789",
        scheduler_interval_s=0.05,
        relay_interval_s=0.05,
        dev_mode=False,
    )
    replicas = [RouterRuntime(settings), RouterRuntime(settings)]
    for replica in replicas:
        await replica.start()
    try:
        for agent in ("agent-lee", "agent-smith"):
            await set_agent_status(replicas[0].ctx, agent, AgentStatus.ONLINE)
        items = [published(chat(n)) for n in range(240)]
        await publish(settings.kafka, items)
        async with RoutingReader(settings.kafka) as reader:
            await reader.wait_for(lambda evs: routed_ids(evs) >= {i.event_id for i in items})
            events = await reader.drain()
        async with replicas[1].ctx.uow.reader() as uow:
            agents = {a.id: a for a in await uow.session.scalars(select(Agent))}
            loads = await uow.session.execute(
                select(Conversation.assignee_id, func.count())
                .where(Conversation.status != "resolved", Conversation.assignee_id.is_not(None))
                .group_by(Conversation.assignee_id)
            )
            held = dict(loads.all())
    finally:
        for replica in replicas:
            await replica.stop()
    per_interaction = Counter(e.interaction_id for e in of_type(events, InteractionRouted))
    assert len(per_interaction) == 240 and set(per_interaction.values()) == {1}
    assigned = Counter(e.agent.agent_id for e in of_type(events, ConversationAssigned))
    for agent_id, count in held.items():
        assert count <= agents[agent_id].capacity["chat"]
        assert assigned[agent_id] >= count
    assert sum(held.values()) == 6  # two agents x 3 chats; the other conversations wait

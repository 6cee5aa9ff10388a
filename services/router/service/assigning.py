"""Assignment: load agents and work, ask the pure domain, store and announce."""

from __future__ import annotations

import uuid

from libs.common.events.interaction import Channel
from libs.common.events.routing import (
    ConversationAssigned,
    ConversationQueued,
    Priority,
)
from services.router.domain.assignment import (
    AgentState,
    AgentStatus,
    AssignmentChoice,
    WorkItem,
    choose_agent,
    plan_assignments,
)
from services.router.service.context import RouterContext
from services.router.service.events import Emitter, agent_ref
from services.router.store.models import Agent, Conversation
from services.router.store.unit_of_work import UnitOfWork


def agent_state(agent: Agent, load: dict[str, int]) -> AgentState:
    return AgentState(
        id=agent.id,
        status=AgentStatus(agent.status),
        queues=frozenset(agent.queues or []),
        capacity={Channel(k): int(v) for k, v in (agent.capacity or {}).items()},
        load={Channel(k): v for k, v in load.items()},
        skills=frozenset(agent.skills or []),
        last_assigned_at=agent.last_assigned_at,
    )


def work_item(conversation: Conversation, previous_agent_id: str | None = None) -> WorkItem:
    return WorkItem(
        conversation_id=conversation.id,
        queue=conversation.queue,
        channel=Channel(conversation.channel),
        priority=Priority(conversation.priority),
        queued_at=conversation.queued_at or conversation.opened_at,
        skills=frozenset(conversation.skills or []),
        previous_agent_id=previous_agent_id,
    )


async def available_agents(
    uow: UnitOfWork, *, exclude: str | None = None
) -> tuple[dict[str, Agent], list[AgentState]]:
    """Online agents (row-locked on PostgreSQL) and their current load."""
    agents = {a.id: a for a in await uow.agents.online(lock=True) if a.id != exclude}
    loads = await uow.conversations.loads(agents)
    return agents, [agent_state(a, loads.get(a.id, {})) for a in agents.values()]


async def apply_choice(
    emitter: Emitter,
    conversation: Conversation,
    agent: Agent,
    choice: AssignmentChoice,
    *,
    reason: str,
) -> None:
    previous = await emitter.agent(conversation.assignee_id)
    conversation.assignee_id = agent.id
    conversation.queued_at = None
    agent.last_assigned_at = emitter.now
    await emitter.emit(
        ConversationAssigned,
        conversation,
        reason=reason,
        agent=agent_ref(agent),
        previous_agent=agent_ref(previous),
        sticky=choice.sticky,
    )


async def assign_or_queue(
    uow: UnitOfWork,
    ctx: RouterContext,
    emitter: Emitter,
    conversation: Conversation,
    *,
    previous_agent_id: str | None = None,
    exclude: str | None = None,
    reason: str,
) -> None:
    agents, states = await available_agents(uow, exclude=exclude)
    if previous_agent_id is None and ctx.options.sticky:
        previous_agent_id = await uow.conversations.previous_agent(
            conversation.contact_id, exclude=conversation.id
        )
    choice = choose_agent(
        work_item(conversation, previous_agent_id), states, sticky=ctx.options.sticky
    )
    if choice is not None:
        sticky_note = "; the customer's previous agent" if choice.sticky else ""
        await apply_choice(
            emitter, conversation, agents[choice.agent_id], choice, reason=reason + sticky_note
        )
        return
    await queue_conversation(emitter, conversation, reason=f"{reason}; no agent free")


async def queue_conversation(emitter: Emitter, conversation: Conversation, *, reason: str) -> None:
    conversation.assignee_id = None
    conversation.queued_at = conversation.queued_at or emitter.now
    await emitter.emit(ConversationQueued, conversation, reason=reason, queue=conversation.queue)


async def drain_queues(ctx: RouterContext, *, reason: str) -> int:
    """Assign waiting conversations while capacity allows: priority, then age."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        await uow.serialise_assignment()
        agents, states = await available_agents(uow)
        if not agents:
            return 0
        queues = {q for a in agents.values() for q in a.queues or []}
        waiting = {c.id: c for c in await uow.conversations.waiting(queues=queues, lock=True)}
        choices = plan_assignments(
            [work_item(c) for c in waiting.values()], states, sticky=False, now=now
        )
        emitter = Emitter(uow, ctx, cause=f"drain:{uuid.uuid4()}", now=now)
        for choice in choices:
            await apply_choice(
                emitter,
                waiting[choice.conversation_id],
                agents[choice.agent_id],
                choice,
                reason=reason,
            )
        if choices:
            await uow.commit()
        return len(choices)

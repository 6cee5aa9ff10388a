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
    AssignmentChoice,
    WorkItem,
    choose_agent,
    plan_assignments,
)
from services.router.service.context import RouterContext
from services.router.service.events import Emitter
from services.router.service.pool import assignment_pool
from services.router.store.models import Agent, Conversation
from services.router.store.unit_of_work import UnitOfWork


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


async def apply_choice(
    emitter: Emitter,
    conversation: Conversation,
    agent: Agent,
    choice: AssignmentChoice,
    *,
    reason: str,
) -> None:
    previous = await emitter.agent(conversation.assignee_id)
    pool = await assignment_pool(emitter.uow)
    if conversation.assignee_id is not None:
        pool.release(conversation.assignee_id, conversation.channel)
    agent.last_assigned_at = emitter.now
    pool.take(agent, conversation.channel)
    remembered = emitter.uow.cache.get("previous_agents")
    if isinstance(remembered, dict):
        remembered[conversation.contact_id] = agent.id
    conversation.assignee_id = agent.id
    conversation.queued_at = None
    await emitter.emit(
        ConversationAssigned,
        conversation,
        reason=reason,
        agent=emitter.agent_reference(agent),
        previous_agent=emitter.agent_reference(previous),
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
    pool = await assignment_pool(uow)
    states = pool.online_states(exclude=exclude)
    if previous_agent_id is None and ctx.options.sticky:
        previous_agent_id = await previous_agent_of(uow, conversation)
    choice = choose_agent(
        work_item(conversation, previous_agent_id), states, sticky=ctx.options.sticky
    )
    if choice is not None:
        sticky_note = "; the customer's previous agent" if choice.sticky else ""
        await apply_choice(
            emitter, conversation, pool.agents[choice.agent_id], choice, reason=reason + sticky_note
        )
        return
    await queue_conversation(emitter, conversation, reason=f"{reason}; no agent free")


async def previous_agent_of(uow: UnitOfWork, conversation: Conversation) -> str | None:
    """The customer's last agent: from the batch cache when routing, else a query."""
    remembered = uow.cache.get("previous_agents")
    if isinstance(remembered, dict):
        return remembered.get(conversation.contact_id)
    return await uow.conversations.previous_agent(conversation.contact_id, exclude=conversation.id)


async def queue_conversation(emitter: Emitter, conversation: Conversation, *, reason: str) -> None:
    if conversation.assignee_id is not None:
        (await assignment_pool(emitter.uow)).release(conversation.assignee_id, conversation.channel)
    conversation.assignee_id = None
    conversation.queued_at = conversation.queued_at or emitter.now
    await emitter.emit(ConversationQueued, conversation, reason=reason, queue=conversation.queue)


async def drain_queues(ctx: RouterContext, *, reason: str) -> int:
    """Assign waiting conversations while capacity allows: priority, then age."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        await uow.serialise_assignment()
        pool = await assignment_pool(uow)
        states = pool.online_states()
        if not states:
            return 0
        queues = {q for s in states for q in s.queues}
        waiting = {c.id: c for c in await uow.conversations.waiting(queues=queues, lock=True)}
        choices = plan_assignments(
            [work_item(c) for c in waiting.values()], states, sticky=False, now=now
        )
        emitter = Emitter(uow, ctx, cause=f"drain:{uuid.uuid4()}", now=now)
        for choice in choices:
            await apply_choice(
                emitter,
                waiting[choice.conversation_id],
                pool.agents[choice.agent_id],
                choice,
                reason=reason,
            )
        if choices:
            await uow.commit()
        return len(choices)

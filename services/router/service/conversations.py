"""Conversation operations from the API: transfer, resolve, reopen (replies: ``replies``)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from libs.common.events.routing import (
    ConversationReopened,
    ConversationResolved,
    ConversationTransferred,
)
from services.router.domain.assignment import can_take
from services.router.domain.lifecycle import (
    ConversationStatus,
    InvalidTransition,
    LifecycleTrigger,
    next_status,
)
from services.router.service.agents import NotFound
from services.router.service.assigning import (
    assign_or_queue,
    drain_queues,
    work_item,
)
from services.router.service.clocks import (
    start_resolution_clock,
    stop_all_clocks,
)
from services.router.service.context import RouterContext
from services.router.service.events import Emitter, agent_ref
from services.router.service.pool import assignment_pool
from services.router.store.models import Agent, Conversation
from services.router.store.unit_of_work import UnitOfWork


class CapacityExceeded(ValueError):
    pass


async def _load(uow: UnitOfWork, conversation_id: str) -> Conversation:
    conversation = await uow.conversations.get(conversation_id, lock=True)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id}")
    return conversation


async def transfer(
    ctx: RouterContext,
    conversation_id: str,
    *,
    to_agent: str | None,
    to_queue: str | None,
    by: str,
    force: bool = False,
) -> Conversation:
    if to_queue is not None and ctx.config.current.policies.queue(to_queue) is None:
        raise ValueError(f"unknown queue {to_queue}")
    now = ctx.clock()
    async with ctx.uow() as uow:
        await uow.serialise_assignment()
        conversation = await _load(uow, conversation_id)
        if conversation.status == ConversationStatus.RESOLVED:
            raise InvalidTransition("cannot transfer a resolved conversation")
        emitter = Emitter(uow, ctx, cause=f"transfer:{uuid.uuid4()}", now=now)
        from_agent = await emitter.agent(conversation.assignee_id)
        from_queue = conversation.queue
        conversation.queue = to_queue or conversation.queue
        target = await _target_agent(uow, conversation, to_agent, force=force)
        conversation.assignee_id = target.id if target else None
        conversation.queued_at = None if target else now
        await emitter.emit(
            ConversationTransferred,
            conversation,
            reason=f"transferred by {by}",
            from_agent=agent_ref(from_agent),
            to_agent=agent_ref(target),
            from_queue=from_queue,
            to_queue=conversation.queue,
            by=by,
        )
        if target is None:
            await assign_or_queue(
                uow,
                ctx,
                emitter,
                conversation,
                exclude=from_agent.id if from_agent else None,
                reason=f"transferred to queue {conversation.queue}",
            )
        await uow.commit()
    await drain_queues(ctx, reason="capacity freed by a transfer")
    return conversation


async def _target_agent(
    uow: UnitOfWork, conversation: Conversation, agent_id: str | None, *, force: bool
) -> Agent | None:
    """An explicit transfer skips the queue check but respects status and capacity."""
    if agent_id is None:
        return None
    agent = await uow.agents.get(agent_id, lock=True)
    if agent is None:
        raise NotFound(f"agent {agent_id}")
    state = (await assignment_pool(uow)).state(agent)
    item = work_item(conversation)._replace(queue=conversation.queue, skills=frozenset())
    state = replace(state, queues=state.queues | {conversation.queue})
    if not force and not can_take(state, item):
        raise CapacityExceeded(f"agent {agent_id} is not online with free {item.channel} capacity")
    return agent


async def resolve(ctx: RouterContext, conversation_id: str, *, by: str) -> Conversation:
    now = ctx.clock()
    async with ctx.uow() as uow:
        conversation = await _load(uow, conversation_id)
        conversation.status = next_status(
            ConversationStatus(conversation.status), LifecycleTrigger.RESOLVE
        )
        conversation.resolved_at = now
        stop_all_clocks(uow, ctx, conversation, now)
        emitter = Emitter(uow, ctx, cause=f"resolve:{uuid.uuid4()}", now=now)
        await emitter.emit(
            ConversationResolved,
            conversation,
            reason=f"resolved by {by}",
            resolved_by=by,
            csat_token=ctx.csat.sign(conversation.id, now),
        )
        await uow.commit()
    await drain_queues(ctx, reason="capacity freed by a resolution")
    return conversation


async def reopen(ctx: RouterContext, conversation_id: str, *, by: str) -> Conversation:
    now = ctx.clock()
    async with ctx.uow() as uow:
        await uow.serialise_assignment()
        conversation = await _load(uow, conversation_id)
        conversation.status = next_status(
            ConversationStatus(conversation.status), LifecycleTrigger.REOPEN
        )
        conversation.resolved_at = None
        previous = conversation.assignee_id
        conversation.assignee_id = None
        start_resolution_clock(uow, ctx, conversation, now)
        emitter = Emitter(uow, ctx, cause=f"reopen:{uuid.uuid4()}", now=now)
        await emitter.emit(ConversationReopened, conversation, reason=f"reopened by {by}")
        await assign_or_queue(
            uow, ctx, emitter, conversation, previous_agent_id=previous, reason="reopened"
        )
        await uow.commit()
    return conversation

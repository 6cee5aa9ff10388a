"""Conversation operations from the API: transfer, resolve, reopen, agent reply."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from libs.common.events.interaction import Channel, Direction
from libs.common.events.routing import (
    AgentReplyRequested,
    ConversationReopened,
    ConversationResolved,
    ConversationTransferred,
)
from libs.common.ids import deterministic_id
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
    on_agent_response,
    start_resolution_clock,
    stop_all_clocks,
)
from services.router.service.context import RouterContext
from services.router.service.events import Emitter, agent_ref
from services.router.service.pool import assignment_pool
from services.router.store.models import Agent, Conversation, InteractionRecord
from services.router.store.unit_of_work import UnitOfWork

#: Channels on which the notifier can deliver an agent's reply.
REPLY_CHANNELS = {Channel.EMAIL, Channel.CHAT}


class CapacityExceeded(ValueError):
    pass


@dataclass(frozen=True)
class ReplyResult:
    reply_id: str
    delivered_by_notifier: bool


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
    item = replace(work_item(conversation), queue=conversation.queue, skills=frozenset())
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
        await stop_all_clocks(uow, ctx, conversation, now)
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


async def reply(
    ctx: RouterContext, conversation_id: str, *, agent_id: str, text: str
) -> ReplyResult:
    """An agent answers: the response clock stops; email/chat replies go to the notifier."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        conversation = await _load(uow, conversation_id)
        agent = await uow.agents.get(agent_id)
        if agent is None:
            raise NotFound(f"agent {agent_id}")
        if conversation.status == ConversationStatus.RESOLVED:
            raise InvalidTransition("reopen the conversation before replying")
        reply_id = deterministic_id("router.reply", conversation.id, str(uuid.uuid4()))
        uow.interactions.add(
            InteractionRecord(
                event_id=f"reply:{reply_id}",
                conversation_id=conversation.id,
                contact_id=conversation.contact_id,
                channel=conversation.channel,
                direction=Direction.OUTBOUND.value,
                kind="message",
                occurred_at=now,
                processed_at=now,
                author=agent.name,
                subject=conversation.subject,
                text=text[:4000],
                note="agent reply via the API",
            )
        )
        await on_agent_response(uow, ctx, conversation, now)
        deliver = Channel(conversation.channel) in REPLY_CHANNELS
        if deliver:
            emitter = Emitter(uow, ctx, cause=f"reply:{reply_id}", now=now)
            await emitter.emit(
                AgentReplyRequested,
                conversation,
                reason=f"reply by {agent.id}",
                reply_id=reply_id,
                agent=agent_ref(agent),
                text=text,
                in_reply_to=conversation.last_message_id,
                references=list(conversation.references or []),
            )
        await uow.commit()
    return ReplyResult(reply_id, deliver)

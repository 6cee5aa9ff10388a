"""Fire due SLA timers: warnings, breaches and the escalation ladder."""

from __future__ import annotations

from datetime import datetime

from libs.common.events.routing import (
    ConversationEscalated,
    Priority,
    SlaBreached,
    SlaMetric,
    SlaWarning,
)
from services.router.domain.escalation import (
    ConversationPosition,
    EscalationOutcome,
    TimerKind,
    escalate,
)
from services.router.domain.lifecycle import is_active
from services.router.service.assigning import assign_or_queue, queue_conversation
from services.router.service.clocks import policy_for
from services.router.service.context import RouterContext
from services.router.service.events import Emitter, agent_ref
from services.router.store.models import Conversation, SlaTimer
from services.router.store.unit_of_work import UnitOfWork


async def fire_due_timers(ctx: RouterContext, *, limit: int = 200) -> int:
    """Fire timers due by ``ctx.clock()``; each exactly once (claimed in the same transaction).

    A look first, without the assignment lock (a reader; on SQLite not the write lock
    either): with no timer due, nothing is locked. A timer that falls due or is written
    after the look fires on the next round, as it would have had it been written a moment
    later; a false "due" (another replica fired it meanwhile) costs one locked round that
    claims nothing, as every round did."""
    now = ctx.clock()
    async with ctx.uow.reader() as look:
        if not await look.timers.any_due(now):
            return 0
    async with ctx.uow() as uow:
        await uow.serialise_assignment()
        fired = 0
        due = await uow.timers.due(now, limit=limit)
        # The round's claims in one UPDATE and its conversations in one (locked) SELECT,
        # not a claim and a locked get per timer: each claim's ORM UPDATE also evaluated
        # its WHERE over every timer in the session (n² for a round of n). Main-thread
        # CPU per warning fired, rounds of 200 (bench.timer_firing): SQLite ~4.98 ->
        # ~0.24 ms, PostgreSQL ~4.39 -> ~0.23 ms (issue #16). Firing never cancels a
        # timer (only replies and closing do), so claiming all before firing any fires
        # the same timers as claiming each just before it fires.
        claimed = await uow.timers.claim_many([timer.id for timer in due], now)
        conversations = await uow.conversations.get_many(
            {timer.conversation_id for timer in due if timer.id in claimed}, lock=True
        )
        for timer in due:  # by due time, as loaded
            if timer.id not in claimed:
                continue  # another replica fired it, or it was cancelled meanwhile
            conversation = conversations.get(timer.conversation_id)
            if conversation is None or not is_active(conversation.status):
                continue
            await fire_timer(uow, ctx, conversation, timer, now)
            fired += 1
        await uow.commit()
    return fired


async def fire_timer(
    uow: UnitOfWork,
    ctx: RouterContext,
    conversation: Conversation,
    timer: SlaTimer,
    now: datetime,
) -> None:
    emitter = Emitter(uow, ctx, cause=f"timer:{conversation.id}:{timer.id}", now=now)
    metric, kind = SlaMetric(timer.metric), TimerKind(timer.kind)
    policy, _ = policy_for(ctx, conversation)
    position = ConversationPosition(
        conversation.queue, Priority(conversation.priority), conversation.assignee_id
    )
    outcomes = escalate(policy.escalation, kind, metric, position)
    if kind is TimerKind.BREACH:
        conversation.breached = True
    due = f"due {timer.breach_at:%Y-%m-%d %H:%M} UTC"
    await emitter.emit(
        SlaWarning if kind is TimerKind.WARNING else SlaBreached,
        conversation,
        reason="; ".join(o.reason for o in outcomes) + f" ({due})"
        if outcomes
        else f"{metric} {kind} ({due})",
        metric=metric,
        due_at=timer.breach_at,
        target_minutes=timer.target_minutes,
    )
    for outcome in outcomes:
        if outcome.changes_routing:
            await _apply_escalation(uow, ctx, emitter, conversation, outcome)


async def _apply_escalation(
    uow: UnitOfWork,
    ctx: RouterContext,
    emitter: Emitter,
    conversation: Conversation,
    outcome: EscalationOutcome,
) -> None:
    previous_assignee = conversation.assignee_id
    conversation.priority = outcome.to_priority.value
    conversation.queue = outcome.to_queue
    conversation.escalation_level = (conversation.escalation_level or 0) + 1
    queue = ctx.config.current.policies.queue(outcome.to_queue)
    supervisor = await emitter.agent(queue.supervisor if queue else None)
    await emitter.emit(
        ConversationEscalated,
        conversation,
        reason=outcome.reason,
        step=outcome.step,
        metric=outcome.metric,
        from_queue=outcome.from_queue,
        to_queue=outcome.to_queue,
        from_priority=outcome.from_priority,
        to_priority=outcome.to_priority,
        supervisor=agent_ref(supervisor),
    )
    if outcome.unassign and previous_assignee:
        conversation.assignee_id = None
        conversation.queued_at = emitter.now
        await assign_or_queue(
            uow,
            ctx,
            emitter,
            conversation,
            previous_agent_id=None,
            exclude=previous_assignee,
            reason=f"escalated: {outcome.reason}",
        )
    elif conversation.assignee_id is None and outcome.to_queue != outcome.from_queue:
        await queue_conversation(emitter, conversation, reason=f"escalated: {outcome.reason}")

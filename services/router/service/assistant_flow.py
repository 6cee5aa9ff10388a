"""The assistant's hold on a chat conversation (issue #13), as the router records it.

The router stays the only writer of routing state: the assistant only answers
turns. What happens here:

- ``take``: a new chat conversation in a queue whose policy has ``assistant: true``
  is held by the assistant (status ``offered``, tag ``assistant``) instead of assigned.
- ``request_turn``: each customer message while held → ``AssistantTurnRequested``
  with the state recorded from the assistant's earlier events.
- ``apply_assistant_events`` (consumer of ``support.assistant.v1``, idempotent on
  ce_id through the timeline): answered → recorded and handed to the notifier as
  ``AssistantReplyRequested``; handed off → queued and assigned as a new
  conversation; resolved → resolved as deflected (``resolved_by = assistant``).
- ``fire_quiet_checks``: the scheduler asks the assistant once the customer stayed
  quiet after an answer (a durable column, like SLA timer rows).

Clocks (the honest option): the first-response clock starts at the customer's
first message and keeps its start. While the assistant holds the conversation its
SLA timer rows are withdrawn (cancelled), so no warning or escalation fires; at
handoff they are created again from the same start, so a due time already past
fires at the scheduler's next round. An assistant answer never stops a clock; a
conversation the assistant resolves records no first response, so it stays out
of the response-time figures and counts as deflected.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from libs.common.events.assistant import (
    AssistantAnswered,
    AssistantEvent,
    AssistantHandedOff,
    AssistantReplyRequested,
    AssistantResolved,
    AssistantState,
    AssistantTurnRequested,
)
from libs.common.events.interaction import Channel, Interaction, InteractionKind
from libs.common.events.routing import ConversationResolved, SlaMetric
from services.router import assistant_metrics
from services.router.domain.lifecycle import ConversationStatus, LifecycleTrigger, next_status
from services.router.domain.policies import PolicyConfig
from services.router.service.assigning import assign_or_queue, drain_queues
from services.router.service.clocks import start_clock, stop_all_clocks
from services.router.service.columns import columns
from services.router.service.context import RouterContext
from services.router.service.events import Emitter
from services.router.service.pool import assignment_pool
from services.router.store.models import ASSISTANT_HOLDING, Conversation, InteractionRecord
from services.router.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

ASSISTANT_TAG = "assistant"
AUTHOR = "assistant"
HOLDING = frozenset(ASSISTANT_HOLDING)
#: Timeline rows of the assistant's events (``interactions.kind``).
ANSWER_KIND = "assistant_answer"
HANDOFF_KIND = "assistant_handoff"
RESOLVED_KIND = "assistant_resolved"
TEXT_CHARS = 4000

_CHAT = Channel.CHAT.value  # read once: an enum member's .value is a property call


def holds(values: Mapping[str, Any]) -> bool:
    """``values``: a conversation's ``columns``."""
    return values["assistant_status"] in HOLDING


def offered_to_assistant(values: Mapping[str, Any], policy: PolicyConfig) -> bool:
    """Chat conversations (never automated ones) in a queue whose policy enables it:
    ``values`` a conversation's ``columns``, ``policy`` its ``policy_for`` policy (the
    caller has both: a new conversation's are read once)."""
    return values["channel"] == _CHAT and not values["automated"] and policy.assistant


async def take(uow: UnitOfWork, conversation: Conversation, at: datetime) -> None:
    """Hold a new conversation offered to the assistant (before ConversationOpened is
    emitted)."""
    conversation.assistant_status = "offered"
    conversation.assistant_answers = 0
    conversation.tags = [*(conversation.tags or []), ASSISTANT_TAG]
    await _withdraw_timers(uow, conversation, at)
    assistant_metrics.OFFERED.inc()


async def request_turn(
    emitter: Emitter, conversation: Conversation, interaction: Interaction
) -> None:
    """One customer message for the assistant, with what it answered before."""
    if interaction.kind is not InteractionKind.MESSAGE:
        return
    conversation.assistant_quiet_check_at = None  # the customer did not stay quiet
    await emitter.emit(
        AssistantTurnRequested,
        conversation,
        reason="customer message for the assistant",
        turn_id=emitter.cause,
        kind="customer_message",
        text=interaction.body.text,
        interaction_id=emitter.cause,
        customer_message_at=interaction.occurred_at,
        state=state_of(conversation),
    )


def state_of(conversation: Conversation) -> AssistantState:
    return AssistantState(
        status=conversation.assistant_status or "offered",  # type: ignore[arg-type]
        answers_given=conversation.assistant_answers or 0,
        last_article_id=conversation.assistant_article_id,
        last_question=conversation.assistant_question,
    )


def on_reopened(conversation: Conversation) -> None:
    """The customer came back: not deflected after all (a person takes the reopened one)."""
    if conversation.assistant_status == "resolved":
        conversation.assistant_status = "reopened"


@dataclass(frozen=True)
class AssistantIncoming:
    event_id: str
    event: AssistantEvent


async def apply_assistant_events(ctx: RouterContext, batch: list[AssistantIncoming]) -> int:
    """Apply a batch in one transaction; an event already in the timeline is skipped."""
    now = ctx.clock()
    handed_off = False
    async with ctx.uow() as uow:
        await uow.serialise_assignment()
        done = await uow.interactions.known(i.event_id for i in batch)
        todo = [i for i in batch if i.event_id not in done]
        if not todo:
            return 0
        await assignment_pool(uow)
        for item in todo:
            conversation = await uow.conversations.get(
                item.event.conversation.conversation_id, lock=True
            )
            if conversation is None:
                log.warning("%s: unknown conversation; ignored", item.event_id)
                continue
            emitter = Emitter(uow, ctx, cause=item.event_id, now=now)
            handed_off |= await _apply(uow, ctx, emitter, conversation, item)
            await uow.flush()  # the next event of this batch sees this one's timeline row
        await uow.commit()
    if handed_off:
        await drain_queues(ctx, reason="assistant handoff")
    return len(todo)


async def _apply(
    uow: UnitOfWork,
    ctx: RouterContext,
    emitter: Emitter,
    conversation: Conversation,
    item: AssistantIncoming,
) -> bool:
    event = item.event
    late = None
    if not holds(columns(conversation)) or conversation.status == ConversationStatus.RESOLVED:
        late = f"no longer with the assistant ({conversation.assistant_status})"
    match event:
        case AssistantAnswered():
            note = f"article {event.article_id} (confidence {event.confidence:.2f})"
            _timeline(
                uow,
                conversation,
                item,
                ANSWER_KIND,
                event.text,
                note,
                late,
                event.article_id,
                now=emitter.now,
            )
            if late is None:
                await _answered(uow, emitter, conversation, event)
        case AssistantHandedOff():
            note = f"handoff: {event.reason}; closest: {', '.join(event.candidates) or '-'}"
            _timeline(
                uow,
                conversation,
                item,
                HANDOFF_KIND,
                event.customer_text,
                note,
                late,
                now=emitter.now,
            )
            if late is None:
                await _handed_off(uow, ctx, emitter, conversation, event)
                return True
        case AssistantResolved():
            note = f"resolved by the assistant: {event.resolution}"
            _timeline(
                uow,
                conversation,
                item,
                RESOLVED_KIND,
                "",
                note,
                late,
                event.article_id,
                now=emitter.now,
            )
            if late is None:
                await _resolved(uow, ctx, emitter, conversation, event)
        case _:
            log.warning("%s: %s is not for the router", item.event_id, event.ce_type)
    return False


def _timeline(
    uow: UnitOfWork,
    conversation: Conversation,
    item: AssistantIncoming,
    kind: str,
    text: str,
    note: str,
    late: str | None,
    article_id: str | None = None,
    *,
    now: datetime,
) -> None:
    """The assistant's event as a timeline row (author ``assistant``); its key is the ce_id.

    ``subject`` holds the article id, which the assistant report counts.
    """
    uow.session.add(
        InteractionRecord(
            event_id=item.event_id,
            conversation_id=conversation.id,
            contact_id=conversation.contact_id,
            channel=conversation.channel,
            direction="outbound" if kind == ANSWER_KIND else "internal",
            kind=kind,
            occurred_at=item.event.occurred_at,
            processed_at=now,
            message_id=None,
            author=AUTHOR,
            subject=article_id,
            text=text[:TEXT_CHARS],
            note=(f"{note}; ignored: {late}" if late else note)[:300],
        )
    )


async def _answered(
    uow: UnitOfWork, emitter: Emitter, conversation: Conversation, event: AssistantAnswered
) -> None:
    turn = await uow.session.get(InteractionRecord, event.turn_id)
    assistant_metrics.ANSWERS.labels(event.article_id).inc()
    conversation.assistant_answers = max(conversation.assistant_answers or 0, event.answer_number)
    conversation.assistant_article_id = event.article_id
    conversation.assistant_question = turn.text if turn is not None else None
    if not event.handoff_follows:
        conversation.assistant_status = "awaiting_feedback"
        conversation.assistant_quiet_check_at = event.quiet_check_at
    await emitter.emit(
        AssistantReplyRequested,
        conversation,
        reason=f"assistant answer {event.answer_number}: {event.article_id}",
        answer_event_id=emitter.cause,
        article_id=event.article_id,
        text=event.text,
        language=event.language,
        quick_replies=event.quick_replies,
    )


async def _handed_off(
    uow: UnitOfWork,
    ctx: RouterContext,
    emitter: Emitter,
    conversation: Conversation,
    event: AssistantHandedOff,
) -> None:
    conversation.assistant_status = "handed_off"
    assistant_metrics.OUTCOMES.labels("handed_off", event.reason).inc()
    conversation.assistant_outcome = event.reason
    conversation.assistant_quiet_check_at = None
    _restore_timers(uow, ctx, conversation)
    conversation.queued_at = emitter.now
    await assign_or_queue(
        uow, ctx, emitter, conversation, reason=f"assistant handed off: {event.reason}"
    )


async def _resolved(
    uow: UnitOfWork,
    ctx: RouterContext,
    emitter: Emitter,
    conversation: Conversation,
    event: AssistantResolved,
) -> None:
    now = emitter.now
    conversation.assistant_status = "resolved"
    assistant_metrics.OUTCOMES.labels("resolved", event.resolution).inc()
    conversation.assistant_outcome = event.resolution
    conversation.assistant_quiet_check_at = None
    conversation.status = next_status(
        ConversationStatus(conversation.status), LifecycleTrigger.RESOLVE
    )
    conversation.resolved_at = now
    stop_all_clocks(uow, ctx, conversation, now)
    await emitter.emit(
        ConversationResolved,
        conversation,
        reason=f"resolved by the assistant ({event.resolution})",
        resolved_by=AUTHOR,
        csat_token=ctx.csat.sign(conversation.id, now),
    )


async def _withdraw_timers(uow: UnitOfWork, conversation: Conversation, at: datetime) -> None:
    """No SLA warning or escalation while the assistant holds it (the clocks keep their start)."""
    # timers started earlier in this transaction are cancelled too (in memory)
    uow.cancel_timers_later(conversation.id, metrics=[m.value for m in SlaMetric], at=at)


def _restore_timers(uow: UnitOfWork, ctx: RouterContext, conversation: Conversation) -> None:
    """Timers again from the clocks' original starts: an overdue one fires next round."""
    if conversation.awaiting_since is not None:
        metric = (
            SlaMetric.FIRST_RESPONSE
            if conversation.first_response_at is None
            else SlaMetric.NEXT_RESPONSE
        )
        start_clock(uow, ctx, conversation, metric, started_at=conversation.awaiting_since)
    if conversation.resolution_running_since is not None:
        start_clock(
            uow,
            ctx,
            conversation,
            SlaMetric.RESOLUTION,
            started_at=conversation.resolution_running_since,
            elapsed_minutes=conversation.resolution_elapsed_minutes or 0.0,
        )


async def fire_quiet_checks(ctx: RouterContext, *, limit: int = 200) -> int:
    """Ask the assistant about conversations that stayed quiet after its answer.

    A look first, through a reader: with no check due, no writing unit is opened (on
    SQLite that is the write lock every poll waits for). One that falls due after the look
    is asked on the next round."""
    now = ctx.clock()
    async with ctx.uow.reader() as look:
        if not await look.conversations.quiet_check_due(now):
            return 0
    async with ctx.uow() as uow:
        query = (
            select(Conversation)
            .where(Conversation.assistant_quiet_check_at <= now)
            .where(Conversation.assistant_status == "awaiting_feedback")
            .order_by(Conversation.assistant_quiet_check_at)
            .limit(limit)
        )
        due = list(await uow.session.scalars(query))
        for conversation in due:
            turn_id = f"quiet:{conversation.id}:{conversation.assistant_answers}"
            conversation.assistant_quiet_check_at = None
            emitter = Emitter(uow, ctx, cause=turn_id, now=now, uses_pool=False)
            await emitter.emit(
                AssistantTurnRequested,
                conversation,
                reason="quiet after the assistant's answer",
                turn_id=turn_id,
                kind="quiet_check",
                state=state_of(conversation),
            )
        await uow.commit()
    return len(due)

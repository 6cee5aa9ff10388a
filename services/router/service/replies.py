"""Agent replies: queued by the API, their fate reported by the notifier and the provider.

- ``request_reply``: the reply is stored ``queued`` with an ``AgentReplyRequested``
  in the same transaction (outbox); no clock stops here — nothing reached anyone yet.
- ``apply_outcome``: the notifier's ``NotificationOutcome`` (retrying, accepted /
  sent by the relay, failed). The provider's or relay's acceptance of a person's
  reply stops the response clocks, at the time it was accepted.
- ``apply_receipt``: a ``delivery_status`` interaction from ingest (sent,
  delivered, read, failed) attached by the provider's message id. Receipts
  never stop a clock.

Every report is stored once under its own key (``reply_reports``), so
redelivered outcomes and receipts change nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from libs.common.events.interaction import (
    Channel,
    DeliveryState,
    Direction,
    Interaction,
    ReplyPath,
)
from libs.common.events.notification import NotificationOutcome, NotificationStatus
from libs.common.events.routing import AgentReplyRequested, ReplyFailed
from libs.common.ids import deterministic_id
from services.router.domain.lifecycle import ConversationStatus, InvalidTransition
from services.router.domain.replies import (
    Refusal,
    callback_claimant,
    callback_claimed,
    callback_used,
    claim_callback,
    next_state,
    reply_refusal,
    spend_single_use,
    stops_response_clock,
)
from services.router.metrics import REPLY_STATES
from services.router.service.agents import NotFound
from services.router.service.clocks import on_reply_accepted
from services.router.service.context import RouterContext
from services.router.service.events import Emitter, agent_ref
from services.router.store.models import Conversation, InteractionRecord, Reply, ReplyReport
from services.router.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

AGENT_REPLY = "agent_reply"

#: What a notifier outcome says about the reply it carried.
OUTCOME_STATES: dict[NotificationStatus, DeliveryState] = {
    NotificationStatus.RETRYING: DeliveryState.RETRYING,
    NotificationStatus.ACCEPTED: DeliveryState.ACCEPTED,
    NotificationStatus.SENT: DeliveryState.ACCEPTED,  # the SMTP relay said 250
    NotificationStatus.FAILED: DeliveryState.FAILED,
    NotificationStatus.SUPPRESSED: DeliveryState.FAILED,  # e.g. no address: never sent
}

#: The column holding the time a state was first reported.
STATE_TIMES = {
    DeliveryState.ACCEPTED: "accepted_at",
    DeliveryState.SENT: "sent_at",
    DeliveryState.DELIVERED: "delivered_at",
    DeliveryState.READ: "read_at",
    DeliveryState.FAILED: "failed_at",
}


class ReplyRefused(ValueError):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


@dataclass(frozen=True)
class ReplyResult:
    reply_id: str
    state: DeliveryState
    created_at: datetime


def reply_path_of(conversation: Conversation) -> ReplyPath | None:
    return ReplyPath.model_validate(conversation.reply_path) if conversation.reply_path else None


async def request_reply(
    ctx: RouterContext, conversation_id: str, *, agent_id: str, text: str
) -> ReplyResult:
    """Queue an agent's reply for the notifier; 409/422-style refusals raise ReplyRefused."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        conversation = await uow.conversations.get(conversation_id, lock=True)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id}")
        agent = await uow.agents.get(agent_id)
        if agent is None:
            raise NotFound(f"agent {agent_id}")
        if conversation.status == ConversationStatus.RESOLVED:
            raise InvalidTransition("reopen the conversation before replying")
        path = reply_path_of(conversation)
        claimant = await _callback_claimant_state(uow, conversation)
        refusal = reply_refusal(
            channel=Channel(conversation.channel),
            provider=conversation.provider,
            reply_path=path,
            customer_email=(conversation.customer or {}).get("email"),
            text=text,
            now=now,
            limits=ctx.reply_limits,
            callback_used=callback_used(conversation.reply_path),
            callback_claimed=callback_claimed(claimant),
        )
        if refusal is not None:
            raise ReplyRefused(refusal)
        reply_id = deterministic_id("router.reply", conversation.id, str(uuid.uuid4()))
        if path is not None and path.provider == "kakao" and conversation.reply_path:
            # the callback answers once: a second reply queued before this one's
            # outcome is back would only fail at Kakao
            conversation.reply_path = claim_callback(conversation.reply_path, reply_id)
        uow.session.add(
            Reply(
                id=reply_id,
                conversation_id=conversation.id,
                agent_id=agent.id,
                purpose=AGENT_REPLY,
                text=text,
                channel=conversation.channel,
                provider=path.provider if path else conversation.provider,
                state=DeliveryState.QUEUED.value,
                attempts=0,
                created_at=now,
                updated_at=now,
            )
        )
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
                note=f"agent reply {reply_id} (queued for the notifier)",
            )
        )
        emitter = Emitter(uow, ctx, cause=f"reply:{reply_id}", now=now, uses_pool=False)
        await emitter.emit(
            AgentReplyRequested,
            conversation,
            reason=f"reply by {agent.id}",
            reply_id=reply_id,
            agent=agent_ref(agent),
            text=text,
            in_reply_to=conversation.last_message_id,
            references=list(conversation.references or []),
            purpose=AGENT_REPLY,
        )
        await uow.commit()
    REPLY_STATES.labels(DeliveryState.QUEUED.value).inc()
    return ReplyResult(reply_id, DeliveryState.QUEUED, now)


async def _callback_claimant_state(
    uow: UnitOfWork, conversation: Conversation
) -> DeliveryState | None:
    claimant_id = callback_claimant(conversation.reply_path)
    claimant = await uow.session.get(Reply, claimant_id) if claimant_id else None
    return DeliveryState(claimant.state) if claimant is not None else None


async def apply_outcome(ctx: RouterContext, event_id: str, outcome: NotificationOutcome) -> bool:
    """Apply a notifier outcome to its reply; False when it is not about a reply or known."""
    return await apply_outcomes(ctx, [(event_id, outcome)]) == 1


async def apply_outcomes(
    ctx: RouterContext, outcomes: list[tuple[str, NotificationOutcome]]
) -> int:
    """Apply a batch of outcomes in one transaction (one consumer poll); returns how many."""
    relevant = [(e, o) for e, o in outcomes if o.reply_id and o.status in OUTCOME_STATES]
    spent = [o for _, o in outcomes if o.single_use and o.status is NotificationStatus.ACCEPTED]
    if not relevant and not spent:
        return 0
    applied = 0
    async with ctx.uow() as uow:
        await uow.serialise_assignment()  # the same lock order as routing (clocks, status)
        for event_id, outcome in relevant:
            applied += await _apply_outcome(uow, ctx, event_id, outcome)
        for outcome in spent:
            await _spend_single_use(uow, outcome)
        await uow.commit()
    return applied


async def _spend_single_use(uow: UnitOfWork, outcome: NotificationOutcome) -> None:
    """A reply, ack or survey used the Kakao callback / LINE reply token: no second use."""
    assert outcome.single_use is not None
    conversation = await uow.conversations.get(outcome.conversation_id, lock=True)
    if conversation is None:
        return
    at = outcome.accepted_at or outcome.occurred_at
    path = spend_single_use(conversation.reply_path, outcome.single_use, at)
    if path is not None:  # else already spent, or a newer message brought a fresh one
        conversation.reply_path = path
        log.info(
            "conversation %s: %s %s used by %s",
            conversation.id,
            outcome.provider,
            outcome.single_use.part,
            outcome.routing_event_id,
        )


async def _apply_outcome(
    uow: UnitOfWork, ctx: RouterContext, event_id: str, outcome: NotificationOutcome
) -> bool:
    state = OUTCOME_STATES[outcome.status]
    key = f"outcome:{event_id}:{outcome.status.value}"[:250]
    at = outcome.accepted_at or outcome.occurred_at
    if await uow.session.get(ReplyReport, key) is not None:
        return False
    reply = await uow.session.get(Reply, outcome.reply_id, with_for_update=uow.postgres)
    if reply is None:
        log.warning("outcome %s names unknown reply %s", event_id, outcome.reply_id)
        return False
    uow.session.add(
        ReplyReport(
            key=key,
            reply_id=reply.id,
            provider_message_id=outcome.provider_message_id,
            source="outcome",
            state=state.value,
            at=at,
            error_code=outcome.error_code,
            error_detail=(outcome.reason or "")[:1000] or None,
        )
    )
    reply.attempts = max(reply.attempts, outcome.attempts)
    await _apply(
        uow,
        ctx,
        reply,
        state,
        at,
        from_outcome=True,
        cause=key,
        error_code=outcome.error_code or _failure_code(outcome, state),
        error_detail=outcome.reason,
    )
    if outcome.provider_message_id and reply.provider_message_id is None:
        reply.provider_message_id = outcome.provider_message_id
        await uow.flush()  # the waiting receipts are found by this id
        await _attach_waiting_receipts(uow, ctx, reply)
    return True


def _failure_code(outcome: NotificationOutcome, state: DeliveryState) -> str | None:
    return outcome.status.value if state is DeliveryState.FAILED else None


async def apply_receipt(
    uow: UnitOfWork, ctx: RouterContext, event_id: str, interaction: Interaction
) -> str:
    """A provider's status report of one of our messages (inside the routing transaction)."""
    receipt = interaction.receipt
    if receipt is None:
        return "delivery status without a receipt: nothing to attach"
    reply = await uow.session.scalar(
        select(Reply).where(Reply.provider_message_id == receipt.provider_message_id)
    )
    key = f"receipt:{event_id}"[:250]
    uow.session.add(
        ReplyReport(
            key=key,
            reply_id=reply.id if reply else None,
            provider_message_id=receipt.provider_message_id,
            source="receipt",
            state=receipt.state.value,
            at=interaction.occurred_at,
            error_code=receipt.error_code,
            error_detail=(receipt.error_detail or "")[:1000] or None,
        )
    )
    if reply is None:
        return f"receipt for {receipt.provider_message_id}: waits for its reply"
    await _apply(
        uow,
        ctx,
        reply,
        receipt.state,
        interaction.occurred_at,
        from_outcome=False,
        cause=key,
        error_code=receipt.error_code,
        error_detail=receipt.error_detail,
    )
    return f"receipt {receipt.state.value} for reply {reply.id}"


async def _attach_waiting_receipts(uow: UnitOfWork, ctx: RouterContext, reply: Reply) -> None:
    waiting = await uow.session.scalars(
        select(ReplyReport).where(
            ReplyReport.provider_message_id == reply.provider_message_id,
            ReplyReport.reply_id.is_(None),
        )
    )
    for report in list(waiting):
        report.reply_id = reply.id
        await _apply(
            uow,
            ctx,
            reply,
            DeliveryState(report.state),
            report.at,
            from_outcome=False,
            cause=report.key,
            error_code=report.error_code,
            error_detail=report.error_detail,
        )


async def _apply(
    uow: UnitOfWork,
    ctx: RouterContext,
    reply: Reply,
    reported: DeliveryState,
    at: datetime,
    *,
    from_outcome: bool,
    cause: str,
    error_code: str | None,
    error_detail: str | None,
) -> None:
    now = ctx.clock()
    stops = stops_response_clock(
        purpose=reply.purpose,
        reported=reported,
        already_accepted=reply.accepted_at is not None,
        from_outcome=from_outcome,
    )
    column = STATE_TIMES.get(reported)
    if column is not None and getattr(reply, column) is None:
        setattr(reply, column, at)
    current = DeliveryState(reply.state)
    new = next_state(current, reported)
    if new is not current:
        reply.state, reply.updated_at = new.value, now
        REPLY_STATES.labels(new.value).inc()
        await _note_state(uow, ctx, reply, new, at, cause, error_code, error_detail)
    if stops:
        await _stop_clock(uow, ctx, reply, at)


async def _note_state(
    uow: UnitOfWork,
    ctx: RouterContext,
    reply: Reply,
    new: DeliveryState,
    at: datetime,
    cause: str,
    error_code: str | None,
    error_detail: str | None,
) -> None:
    if new is DeliveryState.FAILED:
        reply.error_code = (error_code or "failed")[:60]
        reply.error_detail = (error_detail or "")[:1000] or None
        await _failed(uow, ctx, reply, at, cause)
    elif new is not DeliveryState.RETRYING:
        reply.error_code = reply.error_detail = None
    elif error_detail:
        reply.error_detail = error_detail[:1000]


async def _stop_clock(uow: UnitOfWork, ctx: RouterContext, reply: Reply, at: datetime) -> None:
    conversation = await uow.conversations.get(reply.conversation_id, lock=True)
    if conversation is not None:
        await on_reply_accepted(uow, ctx, conversation, at, requested_at=reply.created_at)


async def _failed(
    uow: UnitOfWork, ctx: RouterContext, reply: Reply, at: datetime, cause: str
) -> None:
    conversation = await uow.conversations.get(reply.conversation_id, lock=True)
    if conversation is None or reply.purpose != AGENT_REPLY:
        return
    emitter = Emitter(uow, ctx, cause=cause, now=ctx.clock(), uses_pool=False)
    await emitter.emit(
        ReplyFailed,
        conversation,
        reason=f"reply {reply.id} failed: {reply.error_code}",
        reply_id=reply.id,
        agent=agent_ref(await uow.agents.get(reply.agent_id)) if reply.agent_id else None,
        text=reply.text[:500],
        error_code=reply.error_code,
        error_detail=reply.error_detail,
        failed_at=at,
    )


async def replies_of(ctx: RouterContext, conversation_id: str) -> list[Reply]:
    async with ctx.uow.reader() as uow:
        if await uow.conversations.get(conversation_id) is None:
            raise NotFound(f"conversation {conversation_id}")
        rows = await uow.session.scalars(
            select(Reply)
            .where(Reply.conversation_id == conversation_id)
            .order_by(Reply.created_at, Reply.id)
        )
        return list(rows)

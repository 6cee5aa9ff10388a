"""Replies and honest clocks on the real store (SQLite AND PostgreSQL).

Regression tests for the clock defects of issue #12:
1. a WhatsApp "read" status set ``first_response_at`` and moved the conversation
   to waiting_on_customer;
2. an API reply stopped the first-response clock when it was *requested*, before
   (and whether or not) any provider accepted it;
3. a reply that failed (or a bot's message) counted as an answer.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from libs.common.events.interaction import (
    CallDetails,
    Channel,
    CustomerIdentity,
    DeliveryReceipt,
    DeliveryState,
    Direction,
    Flags,
    Interaction,
    InteractionKind,
    MessageBody,
    ReplyPath,
    ThreadHints,
)
from libs.common.events.notification import NotificationStatus
from services.router.service.agents import seed_agents
from services.router.service.interactions import Incoming, route_batch
from services.router.service.replies import (
    ReplyRefused,
    apply_outcome,
    replies_of,
    request_reply,
)
from services.router.store.models import (
    OutboxRow,
    Reply,
    SlaTimer,
)
from tests.integration.router.helpers import conversation_of, reply_outcome

pytestmark = pytest.mark.integration

WA_ID = "821012345678"


@pytest.fixture
async def ctx(ctx):
    """The conftest's router context, with the agents seeded (replies need an assignee)."""
    await seed_agents(ctx)
    return ctx


def whatsapp_message(clock, text: str = "출금이 안 돼요", **extra) -> Interaction:
    now = clock()
    return Interaction(
        channel=Channel.CHAT,
        provider="whatsapp",
        integration="wa-main",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(phone=f"+{WA_ID}", handle=f"whatsapp:{WA_ID}"),
        thread=ThreadHints(provider_thread_id=f"pn-1|{WA_ID}"),
        body=MessageBody(text=text),
        reply_path=ReplyPath(provider="whatsapp", integration="wa-main", address=WA_ID),
        **extra,
    )


def whatsapp_status(clock, message_id: str, state: DeliveryState) -> Interaction:
    """As chat_ingest publishes a WhatsApp ``statuses`` entry about our message."""
    now = clock()
    return Interaction(
        channel=Channel.CHAT,
        provider="whatsapp",
        integration="wa-main",
        direction=Direction.OUTBOUND,
        kind=InteractionKind.DELIVERY_STATUS,
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(phone=f"+{WA_ID}", handle=f"whatsapp:{WA_ID}"),
        thread=ThreadHints(provider_thread_id=f"pn-1|{WA_ID}"),
        provider_message_id=message_id,
        receipt=DeliveryReceipt(provider_message_id=message_id, state=state),
    )


async def open_timers(ctx, conversation_id: str, metric: str) -> list[SlaTimer]:
    async with ctx.uow.reader() as uow:
        timers = await uow.timers.for_conversation(conversation_id)
    return [t for t in timers if t.metric == metric and t.cancelled_at is None]


async def outbox_types(ctx, conversation_id: str) -> list[str]:
    async with ctx.uow.reader() as uow:
        rows = await uow.session.scalars(
            select(OutboxRow.ce_type).where(OutboxRow.conversation_id == conversation_id)
        )
        return list(rows)


async def test_defect_1_a_read_receipt_does_not_answer_the_customer(ctx, clock):
    await route_batch(ctx, [Incoming("wa-1", whatsapp_message(clock))])
    conversation = await conversation_of(ctx, "wa-1")
    clock.advance(seconds=30)  # WhatsApp reports an earlier message of ours as read
    await route_batch(
        ctx, [Incoming("wa-status-1", whatsapp_status(clock, "wamid.OLD", DeliveryState.READ))]
    )
    after = await conversation_of(ctx, "wa-1")
    assert (await conversation_of(ctx, "wa-status-1")).id == conversation.id
    assert after.first_response_at is None
    assert after.status == "open" and after.awaiting_since == conversation.awaiting_since
    assert len(await open_timers(ctx, conversation.id, "first_response")) == 2


async def test_defect_2_the_clock_stops_at_the_providers_accept_time_not_the_request(ctx, clock):
    start = clock()
    await route_batch(ctx, [Incoming("wa-1", whatsapp_message(clock))])
    conversation = await conversation_of(ctx, "wa-1")
    clock.advance(minutes=1)
    queued = await request_reply(ctx, conversation.id, agent_id="agent-smith", text="확인 중입니다")
    assert queued.state is DeliveryState.QUEUED
    still = await conversation_of(ctx, "wa-1")
    assert still.first_response_at is None and still.status == "open"
    assert len(await open_timers(ctx, conversation.id, "first_response")) == 2
    accepted_at = clock.advance(minutes=2)  # the provider took it two minutes later …
    clock.advance(minutes=1)  # … and we hear of it a minute after that
    outcome = reply_outcome(
        queued.reply_id, conversation.id, accepted_at, provider_message_id="wamid.A1"
    )
    assert await apply_outcome(ctx, "outcome-1", outcome)
    assert not await apply_outcome(ctx, "outcome-1", outcome)  # redelivered: nothing again
    answered = await conversation_of(ctx, "wa-1")
    assert answered.first_response_at == accepted_at == start + timedelta(minutes=3)
    assert answered.status == "waiting_on_customer"
    assert await open_timers(ctx, conversation.id, "first_response") == []
    (reply,) = await replies_of(ctx, conversation.id)
    assert reply.state == "accepted" and reply.accepted_at == accepted_at

    # delivery and read receipts only move the reply's state, never the clock
    clock.advance(seconds=5)
    await route_batch(
        ctx, [Incoming("st-d", whatsapp_status(clock, "wamid.A1", DeliveryState.DELIVERED))]
    )
    delivered_at = clock()
    clock.advance(seconds=5)
    await route_batch(
        ctx, [Incoming("st-r", whatsapp_status(clock, "wamid.A1", DeliveryState.READ))]
    )
    (reply,) = await replies_of(ctx, conversation.id)
    assert reply.state == "read" and reply.delivered_at == delivered_at
    assert (await conversation_of(ctx, "wa-1")).first_response_at == accepted_at


async def test_defect_3_a_failed_reply_never_stops_the_clock_and_its_agent_hears(ctx, clock):
    await route_batch(ctx, [Incoming("wa-1", whatsapp_message(clock))])
    conversation = await conversation_of(ctx, "wa-1")
    queued = await request_reply(ctx, conversation.id, agent_id="agent-smith", text="hello")
    clock.advance(seconds=10)
    retrying = reply_outcome(
        queued.reply_id,
        conversation.id,
        clock(),
        status=NotificationStatus.RETRYING,
        reason="429 Too Many Requests",
    )
    await apply_outcome(ctx, "o-retry", retrying)
    (reply,) = await replies_of(ctx, conversation.id)
    assert reply.state == "retrying"
    failed = reply_outcome(
        queued.reply_id,
        conversation.id,
        clock.advance(seconds=10),
        status=NotificationStatus.FAILED,
        reason="(#131047) Re-engagement message: more than 24 hours since the customer replied",
        error_code="window_closed",
    )
    await apply_outcome(ctx, "o-failed", failed)
    (reply,) = await replies_of(ctx, conversation.id)
    assert reply.state == "failed" and reply.error_code == "window_closed"
    assert reply.failed_at == clock()
    after = await conversation_of(ctx, "wa-1")
    assert after.first_response_at is None and after.status == "open"
    assert len(await open_timers(ctx, conversation.id, "first_response")) == 2
    assert (await outbox_types(ctx, conversation.id)).count("support.reply.failed") == 1


async def test_bot_messages_and_the_echo_of_our_own_reply_are_not_answers(ctx, clock):
    await route_batch(ctx, [Incoming("wa-1", whatsapp_message(clock))])
    conversation = await conversation_of(ctx, "wa-1")
    bot = whatsapp_message(clock, "자동 응답입니다").model_copy(
        update={"direction": Direction.OUTBOUND, "flags": Flags(auto_submitted=True)}
    )
    await route_batch(ctx, [Incoming("bot-1", bot)])
    assert (await conversation_of(ctx, "wa-1")).first_response_at is None
    queued = await request_reply(ctx, conversation.id, agent_id="agent-smith", text="hi")
    await apply_outcome(
        ctx,
        "o-1",
        reply_outcome(queued.reply_id, conversation.id, clock(), status=NotificationStatus.FAILED),
    )
    echo = whatsapp_message(clock, "hi").model_copy(
        update={"direction": Direction.OUTBOUND, "provider_message_id": "wamid.ECHO"}
    )
    async with ctx.uow() as uow:  # the provider had given our (failed-looking) reply this id
        stored = await uow.session.get(Reply, queued.reply_id)
        stored.provider_message_id = "wamid.ECHO"
        await uow.commit()
    await route_batch(ctx, [Incoming("echo-1", echo)])
    assert (await conversation_of(ctx, "wa-1")).first_response_at is None


async def test_a_receipt_before_the_acceptance_waits_and_then_attaches(ctx, clock):
    await route_batch(ctx, [Incoming("wa-1", whatsapp_message(clock))])
    conversation = await conversation_of(ctx, "wa-1")
    queued = await request_reply(ctx, conversation.id, agent_id="agent-smith", text="hi")
    accepted_at = clock.advance(seconds=1)
    clock.advance(seconds=1)  # the status webhook beats the notifier's outcome
    await route_batch(
        ctx, [Incoming("st-early", whatsapp_status(clock, "wamid.E", DeliveryState.DELIVERED))]
    )
    (reply,) = await replies_of(ctx, conversation.id)
    assert reply.state == "queued"
    outcome = reply_outcome(
        queued.reply_id, conversation.id, accepted_at, provider_message_id="wamid.E"
    )
    await apply_outcome(ctx, "o-late", outcome)
    (reply,) = await replies_of(ctx, conversation.id)
    assert reply.state == "delivered" and reply.accepted_at == accepted_at
    assert (await conversation_of(ctx, "wa-1")).first_response_at == accepted_at


async def test_replies_are_refused_where_the_channel_cannot_be_answered(ctx, clock):
    now = clock()
    call = Interaction(
        channel=Channel.PHONE,
        provider="twilio",
        integration="tw",
        kind=InteractionKind.CALL_MISSED,
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(phone="+821099990000"),
        call=CallDetails(call_id="CA1", status="missed", from_number="+821099990000"),
    )
    kakao = Interaction(
        channel=Channel.CHAT,
        provider="kakao",
        integration="kakao-main",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(handle="kakao:user-1"),
        thread=ThreadHints(provider_thread_id="kakao-user-1"),
        body=MessageBody(text="안녕하세요"),
        reply_path=ReplyPath(
            provider="kakao",
            integration="kakao-main",
            address="user-1",
            callback_url="http://127.0.0.1:1/callback",
            callback_expires_at=now + timedelta(minutes=1),
        ),
    )
    await route_batch(ctx, [Incoming("call-1", call), Incoming("kakao-1", kakao)])
    phone = await conversation_of(ctx, "call-1")
    with pytest.raises(ReplyRefused) as refused:
        await request_reply(ctx, phone.id, agent_id="agent-smith", text="call me")
    assert (refused.value.refusal.status, refused.value.refusal.code) == (409, "no_reply_path")
    chat = await conversation_of(ctx, "kakao-1")
    await request_reply(ctx, chat.id, agent_id="agent-smith", text="네")  # callback still live
    clock.advance(minutes=2)
    with pytest.raises(ReplyRefused) as refused:
        await request_reply(ctx, chat.id, agent_id="agent-smith", text="네")
    assert refused.value.refusal.code == "callback_expired"
    await route_batch(ctx, [Incoming("wa-1", whatsapp_message(clock))])
    whatsapp = await conversation_of(ctx, "wa-1")
    with pytest.raises(ReplyRefused) as refused:
        await request_reply(ctx, whatsapp.id, agent_id="agent-smith", text="x" * 4097)
    assert (refused.value.refusal.status, refused.value.refusal.limit) == (422, 4096)

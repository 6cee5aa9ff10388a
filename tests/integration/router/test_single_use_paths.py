"""Single-use reply paths on the real store (SQLite AND PostgreSQL).

A Kakao skill callback and a LINE reply token answer once. When the notifier
reports a delivered message that used one, the router spends it: Kakao's next
reply is refused up front (409 ``callback_used``), LINE's next message carries
no token (the notifier pushes). A new customer message brings a fresh one.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ReplyPath,
    ThreadHints,
)
from libs.common.events.notification import (
    NotificationChannel,
    NotificationOutcome,
    NotificationStatus,
    SingleUsePart,
)
from services.router.service.agents import seed_agents
from services.router.service.interactions import Incoming, route_batch
from services.router.service.replies import (
    ReplyRefused,
    apply_outcome,
    apply_outcomes,
    replies_of,
    request_reply,
)
from services.router.store.models import Conversation, OutboxRow
from tests.integration.router.helpers import conversation_of, reply_outcome

pytestmark = pytest.mark.integration


@pytest.fixture
async def ctx(ctx):
    """The conftest's router context, with the agents seeded (replies need an assignee)."""
    await seed_agents(ctx)
    return ctx


def kakao_message(clock, n: int) -> Interaction:
    now = clock()
    return Interaction(
        channel=Channel.CHAT,
        provider="kakao",
        integration="kakao-main",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(handle="kakao:user-1"),
        thread=ThreadHints(provider_thread_id="kakao-user-1"),
        body=MessageBody(text=f"출금 문의 {n}"),
        reply_path=ReplyPath(
            provider="kakao",
            integration="kakao-main",
            address="user-1",
            callback_url=f"http://127.0.0.1:1/callback/{n}",
            callback_expires_at=now + timedelta(minutes=1),
        ),
    )


def line_message(clock, n: int) -> Interaction:
    now = clock()
    return Interaction(
        channel=Channel.CHAT,
        provider="line",
        integration="line-main",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(handle="line:U1"),
        thread=ThreadHints(provider_thread_id="line-U1"),
        body=MessageBody(text=f"입금 문의 {n}"),
        reply_path=ReplyPath(
            provider="line",
            integration="line-main",
            address="U1",
            reply_token=f"token-{n}",
            reply_token_expires_at=now + timedelta(seconds=30),
        ),
    )


def used(conversation: Conversation, part: str) -> SingleUsePart:
    path = ReplyPath.model_validate(conversation.reply_path)
    expires = path.callback_expires_at if part == "callback" else path.reply_token_expires_at
    return SingleUsePart(part=part, expires_at=expires)


def accepted_reply(reply_id, conversation: Conversation, at, part: str) -> NotificationOutcome:
    outcome = reply_outcome(reply_id, conversation.id, at, provider_message_id=f"m-{reply_id}")
    return outcome.model_copy(
        update={"provider": conversation.provider, "single_use": used(conversation, part)}
    )


def accepted_ack(conversation: Conversation, at, part: str) -> NotificationOutcome:
    """The notifier's outcome of an automatic acknowledgement (no reply id)."""
    return NotificationOutcome(
        routing_event_id=f"ack-{conversation.id}",
        routing_event_type="support.conversation.opened",
        conversation_id=conversation.id,
        channel=NotificationChannel.CHAT,
        recipient="customer",
        template="chat_ack",
        status=NotificationStatus.ACCEPTED,
        occurred_at=at,
        purpose="acknowledgement",
        provider=conversation.provider,
        provider_message_id="ack-1",
        accepted_at=at,
        single_use=used(conversation, part),
    )


async def test_a_used_kakao_callback_refuses_the_next_reply_until_the_customer_writes(ctx, clock):
    await route_batch(ctx, [Incoming("kakao-1", kakao_message(clock, 1))])
    conversation = await conversation_of(ctx, "kakao-1")
    clock.advance(seconds=10)
    queued = await request_reply(ctx, conversation.id, agent_id="agent-smith", text="확인 중")
    accepted_at = clock.advance(seconds=2)
    outcome = accepted_reply(queued.reply_id, conversation, accepted_at, "callback")
    assert await apply_outcome(ctx, "o-1", outcome)
    assert not await apply_outcome(ctx, "o-1", outcome)  # redelivered: nothing again
    answered = await conversation_of(ctx, "kakao-1")
    assert answered.first_response_at == accepted_at
    (reply,) = await replies_of(ctx, conversation.id)
    assert reply.state == "accepted"

    clock.advance(seconds=5)  # well inside the callback's minute, but it is spent
    with pytest.raises(ReplyRefused) as refused:
        await request_reply(ctx, conversation.id, agent_id="agent-smith", text="추가 안내")
    assert (refused.value.refusal.status, refused.value.refusal.code) == (409, "callback_used")
    assert "cannot reply on this channel" in refused.value.refusal.detail
    assert len(await replies_of(ctx, conversation.id)) == 1  # nothing queued
    # the notifier is handed the path expired at its use, so its check refuses acks too
    spent = ReplyPath.model_validate((await conversation_of(ctx, "kakao-1")).reply_path)
    assert spent.callback_expires_at == accepted_at

    clock.advance(seconds=20)
    await route_batch(ctx, [Incoming("kakao-2", kakao_message(clock, 2))])
    assert (await conversation_of(ctx, "kakao-2")).id == conversation.id
    again = await request_reply(ctx, conversation.id, agent_id="agent-smith", text="완료")
    assert again.state.value == "queued"


async def test_an_acknowledgement_spends_the_kakao_callback_too(ctx, clock):
    await route_batch(ctx, [Incoming("kakao-1", kakao_message(clock, 1))])
    conversation = await conversation_of(ctx, "kakao-1")
    clock.advance(seconds=1)
    assert (
        await apply_outcomes(ctx, [("ack-o", accepted_ack(conversation, clock(), "callback"))]) == 0
    )
    with pytest.raises(ReplyRefused) as refused:
        await request_reply(ctx, conversation.id, agent_id="agent-smith", text="hello")
    assert refused.value.refusal.code == "callback_used"
    # an ack does not answer the customer: the clock still runs
    assert (await conversation_of(ctx, "kakao-1")).first_response_at is None


async def test_a_late_outcome_leaves_a_newer_callback_alone(ctx, clock):
    await route_batch(ctx, [Incoming("kakao-1", kakao_message(clock, 1))])
    first = await conversation_of(ctx, "kakao-1")
    queued = await request_reply(ctx, first.id, agent_id="agent-smith", text="확인 중")
    clock.advance(seconds=3)
    await route_batch(ctx, [Incoming("kakao-2", kakao_message(clock, 2))])  # a fresh callback
    await apply_outcome(ctx, "o-1", accepted_reply(queued.reply_id, first, clock(), "callback"))
    fresh = await conversation_of(ctx, "kakao-2")
    assert fresh.reply_path["callback_url"].endswith("/callback/2")
    assert "callback_used_at" not in fresh.reply_path
    await request_reply(ctx, first.id, agent_id="agent-smith", text="완료")  # not refused


async def test_a_used_line_token_is_not_handed_out_again(ctx, clock):
    await route_batch(ctx, [Incoming("line-1", line_message(clock, 1))])
    conversation = await conversation_of(ctx, "line-1")
    first = await request_reply(ctx, conversation.id, agent_id="agent-smith", text="확인 중")
    await apply_outcome(
        ctx, "o-1", accepted_reply(first.reply_id, conversation, clock(), "reply_token")
    )
    after = await conversation_of(ctx, "line-1")
    assert "reply_token" not in after.reply_path and after.reply_path["address"] == "U1"
    second = await request_reply(ctx, conversation.id, agent_id="agent-smith", text="완료")
    payloads = await reply_payloads(ctx, conversation.id)
    assert '"token-1"' in payloads[first.reply_id]
    assert '"reply_token":null' in payloads[second.reply_id]  # the notifier pushes it

    clock.advance(seconds=40)
    await route_batch(ctx, [Incoming("line-2", line_message(clock, 2))])
    assert (await conversation_of(ctx, "line-2")).reply_path["reply_token"] == "token-2"


async def reply_payloads(ctx, conversation_id: str) -> dict[str, str]:
    async with ctx.uow.reader() as uow:
        rows = await uow.session.scalars(
            select(OutboxRow.payload).where(
                OutboxRow.conversation_id == conversation_id,
                OutboxRow.ce_type == "support.reply.requested",
            )
        )
        payloads = list(rows)
    replies = await replies_of(ctx, conversation_id)
    return {r.id: next(p for p in payloads if r.id in p) for r in replies}


async def test_a_second_reply_while_the_first_is_on_its_way_is_refused(ctx, clock):
    await route_batch(ctx, [Incoming("kakao-1", kakao_message(clock, 1))])
    conversation = await conversation_of(ctx, "kakao-1")
    first = await request_reply(ctx, conversation.id, agent_id="agent-smith", text="확인 중")
    with pytest.raises(ReplyRefused) as refused:  # no outcome yet: the callback is taken
        await request_reply(ctx, conversation.id, agent_id="agent-smith", text="추가")
    assert (refused.value.refusal.status, refused.value.refusal.code) == (409, "callback_used")
    clock.advance(seconds=5)
    failed = reply_outcome(
        first.reply_id,
        conversation.id,
        clock(),
        status=NotificationStatus.FAILED,
        reason="not_configured: no such integration is configured",
        error_code="not_configured",
    )
    await apply_outcome(ctx, "o-failed", failed)
    # the first never reached Kakao: the callback (still inside its minute) is free again
    second = await request_reply(ctx, conversation.id, agent_id="agent-smith", text="다시")
    assert second.state.value == "queued"
    assert len(await replies_of(ctx, conversation.id)) == 2

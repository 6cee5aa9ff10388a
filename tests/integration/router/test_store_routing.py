"""Routing against the real store (SQLite and PostgreSQL) without Kafka: threading,
references, bounces, reopen, batch visibility and idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from libs.common.events.interaction import (
    BounceInfo,
    CallDetails,
    Channel,
    CustomerIdentity,
    Flags,
    Interaction,
    InteractionKind,
    MessageBody,
    ThreadHints,
)
from services.router.service.agents import seed_agents
from services.router.service.conversations import resolve
from services.router.service.interactions import Incoming, route_batch
from services.router.service.replies import apply_outcome, request_reply
from services.router.service.timers import fire_due_timers
from services.router.store.models import OutboxRow
from tests.integration.router.helpers import conversation_of, reply_outcome

pytestmark = pytest.mark.integration


def mail(clock, email, message_id, *, token=None, in_reply_to=(), **extra) -> Interaction:
    now = clock()
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(email=email),
        subject="Deposit",
        body=MessageBody(text="hello"),
        thread=ThreadHints(
            message_id=message_id, subject_token=token, in_reply_to=list(in_reply_to)
        ),
        **extra,
    )


async def test_references_thread_by_token_only_for_the_same_customer(ctx, clock):
    await route_batch(
        ctx,
        [
            Incoming("a1", mail(clock, "a@example.com", "a1@x")),
            Incoming(
                "a2", mail(clock, "a@example.com", "a2@x", in_reply_to=["a1@x"])
            ),  # same batch
        ],
    )
    first = await conversation_of(ctx, "a1")
    assert first.reference == "C-1"
    assert (await conversation_of(ctx, "a2")).id == first.id
    await route_batch(
        ctx,
        [
            Incoming("a3", mail(clock, "a@example.com", "a3@x", token="C-1")),
            Incoming("b1", mail(clock, "b@example.com", "b1@x", token="C-1")),  # shared subject
        ],
    )
    assert (await conversation_of(ctx, "a3")).id == first.id
    other = await conversation_of(ctx, "b1")
    assert other.id != first.id and other.reference == "C-2"  # gapless numbers


async def test_bounce_attaches_and_duplicates_are_ignored(ctx, clock):
    await route_batch(ctx, [Incoming("c1", mail(clock, "c@example.com", "c1@x"))])
    bounce = mail(
        clock,
        "mailer-daemon@mx.example",
        "dsn1@mx",
        kind=InteractionKind.DELIVERY_STATUS,
        flags=Flags(bounce=True, auto_submitted=True),
        bounce=BounceInfo(original_message_id="<c1@x>", status="5.1.1"),
    )
    assert await route_batch(ctx, [Incoming("dsn1", bounce), Incoming("dsn1", bounce)]) == 1
    assert await route_batch(ctx, [Incoming("dsn1", bounce)]) == 0
    assert (await conversation_of(ctx, "dsn1")).id == (await conversation_of(ctx, "c1")).id
    async with ctx.uow.reader() as uow:
        routed = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.ce_type == "support.interaction.routed")
        )
    assert routed == 2  # one per interaction, the duplicate emitted nothing


async def test_reply_after_resolution_reopens_within_window_else_opens_new(ctx, clock):
    await route_batch(ctx, [Incoming("d1", mail(clock, "d@example.com", "d1@x"))])
    first = await conversation_of(ctx, "d1")
    await resolve(ctx, first.id, by="test")
    clock.advance(days=1)
    auto = mail(
        clock, "d@example.com", "d2@x", in_reply_to=["d1@x"], flags=Flags(out_of_office=True)
    )
    await route_batch(ctx, [Incoming("d2", auto)])
    assert (await conversation_of(ctx, "d2")).status == "resolved"  # auto-replies never reopen
    await route_batch(
        ctx, [Incoming("d3", mail(clock, "d@example.com", "d3@x", in_reply_to=["d1@x"]))]
    )
    reopened = await conversation_of(ctx, "d3")
    assert reopened.id == first.id and reopened.status == "open"
    await resolve(ctx, first.id, by="test")
    clock.advance(days=30)
    await route_batch(
        ctx, [Incoming("d4", mail(clock, "d@example.com", "d4@x", in_reply_to=["d3@x"]))]
    )
    assert (await conversation_of(ctx, "d4")).id != first.id
    assert clock() - first.opened_at > timedelta(days=30)


async def test_next_response_clock_and_paused_resolution(ctx, clock):
    await seed_agents(ctx)
    start = clock()  # Wednesday 10:00 KST, email policy: 30 / 60 / 2880 business minutes
    await route_batch(ctx, [Incoming("n1", mail(clock, "n@example.com", "n1@x"))])
    conversation = await conversation_of(ctx, "n1")
    clock.advance(minutes=10)
    queued = await request_reply(ctx, conversation.id, agent_id="agent-smith", text="Checking")
    # the relay accepts it at once: the clock stops at the acceptance
    await apply_outcome(ctx, "o-1", reply_outcome(queued.reply_id, conversation.id, clock()))
    clock.advance(minutes=110)  # 12:00 KST: the customer answers
    await route_batch(
        ctx, [Incoming("n2", mail(clock, "n@example.com", "n2@x", in_reply_to=["n1@x"]))]
    )
    async with ctx.uow.reader() as uow:
        timers = await uow.timers.for_conversation(conversation.id)
        current = await uow.conversations.get(conversation.id)
    state = {(t.metric, t.kind, t.cycle): (t.due_at, t.cancelled_at is not None) for t in timers}
    assert current.status == "open" and current.first_response_at == start + timedelta(minutes=10)
    assert current.resolution_elapsed_minutes == pytest.approx(10)
    assert all(
        cancelled for (metric, _, _), (_, cancelled) in state.items() if metric == "first_response"
    )
    next_breach = [
        due
        for (m, k, _), (due, c) in state.items()
        if m == "next_response" and k == "breach" and not c
    ]
    assert next_breach == [clock() + timedelta(minutes=60)]
    resolution = [
        due
        for (m, k, _), (due, c) in state.items()
        if m == "resolution" and k == "breach" and not c
    ]
    assert len(resolution) == 1  # resumed with 2870 minutes left; the paused cycle is cancelled
    clock.advance(minutes=60)
    assert await fire_due_timers(ctx) == 2  # next-response warning (at 48 min) and breach
    async with ctx.uow.reader() as uow:
        assert (await uow.conversations.get(conversation.id)).breached


def call_event(clock, kind: InteractionKind, call_id: str, group: str, **call) -> Interaction:
    now = clock()
    return Interaction(
        channel=Channel.PHONE,
        provider="twilio",
        integration="tw",
        kind=kind,
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(phone="+821077778888"),
        call=CallDetails(call_id=call_id, group_id=group, from_number="+821077778888", **call),
    )


async def test_call_legs_share_a_conversation_and_an_answer_is_a_response(ctx, clock):
    await route_batch(
        ctx,
        [
            Incoming(
                "p1", call_event(clock, InteractionKind.CALL_STARTED, "CA1", "G1", status="ringing")
            )
        ],
    )
    clock.advance(seconds=20)
    answered = call_event(
        clock, InteractionKind.CALL_ANSWERED, "CA2", "G1", status="in-progress", answered_at=clock()
    )
    await route_batch(ctx, [Incoming("p2", answered)])
    conversation = await conversation_of(ctx, "p1")
    assert (await conversation_of(ctx, "p2")).id == conversation.id
    current = await conversation_of(ctx, "p2")
    assert current.first_response_at == clock() and current.status == "waiting_on_customer"
    clock.advance(minutes=30)  # a new call from the same number within the phone window
    await route_batch(
        ctx,
        [
            Incoming(
                "p3",
                call_event(
                    clock,
                    InteractionKind.CALL_MISSED,
                    "CA9",
                    "G9",
                    status="missed",
                    callback_requested=True,
                ),
            ),
            # Our own outbound leg that nobody picked up asks for no callback.
            Incoming(
                "p4", call_event(clock, InteractionKind.CALL_MISSED, "CA10", "G9", status="missed")
            ),
        ],
    )
    assert (await conversation_of(ctx, "p3")).id == conversation.id
    async with ctx.uow.reader() as uow:
        callbacks = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.ce_type == "support.callback.requested")
        )
    assert callbacks == 1

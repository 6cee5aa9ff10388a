"""A scheduler round claims its due timers in one statement (issue #16) and still fires
each exactly once, by due time, within ``limit``: a timer another replica fired, one
cancelled meanwhile or one whose conversation was resolved is not fired; the claims,
the events and the conversation changes commit together — on both stores."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from libs.common.events.routing import SlaWarning
from services.router.service import timers
from services.router.service.agents import seed_agents
from services.router.service.context import RouterContext
from services.router.service.interactions import Incoming, route_batch
from services.router.service.timers import fire_due_timers
from services.router.store.models import Conversation, OutboxRow, SlaTimer
from tests.helpers.interactions import telegram_chat

pytestmark = pytest.mark.integration


def chat(at: datetime, n: int) -> Incoming:
    return Incoming(f"batch-{n}", telegram_chat(at, f"batch{n}", f"batch{n}"))


async def waiting_with_warnings(ctx: RouterContext, clock, count: int) -> list[SlaTimer]:
    """``count`` chats waiting (agents offline), a second apart: their first-response
    warnings, in due order."""
    await seed_agents(ctx)
    for n in range(count):
        clock.advance(seconds=1)
        await route_batch(ctx, [chat(clock(), n)])
    async with ctx.uow.reader() as uow:
        warnings = list(
            await uow.session.scalars(
                select(SlaTimer)
                .where(SlaTimer.kind == "warning", SlaTimer.metric == "first_response")
                .order_by(SlaTimer.due_at)
            )
        )
    assert len(warnings) == count
    assert len({w.due_at for w in warnings}) == count
    return warnings


async def commit_sql(ctx: RouterContext, *statements) -> None:  # type: ignore[no-untyped-def]
    async with ctx.uow() as uow:
        for statement in statements:
            await uow.session.execute(statement)
        await uow.commit()


async def warned(ctx: RouterContext) -> list[str]:
    """The conversations with an SLA warning in the outbox, in the order they fired."""
    async with ctx.uow.reader() as uow:
        rows = await uow.session.scalars(
            select(OutboxRow.conversation_id)
            .where(OutboxRow.ce_type == SlaWarning.ce_type)
            .order_by(OutboxRow.id)
        )
        return list(rows)


async def timer_states(ctx: RouterContext, ids: list[int]) -> dict[int, tuple]:
    async with ctx.uow.reader() as uow:
        rows = await uow.session.execute(
            select(SlaTimer.id, SlaTimer.fired_at, SlaTimer.cancelled_at).where(
                SlaTimer.id.in_(ids)
            )
        )
        return {row[0]: (row[1], row[2]) for row in rows}


async def test_a_round_skips_timers_claimed_cancelled_or_closed_meanwhile(ctx, clock):
    w = await waiting_with_warnings(ctx, clock, 7)
    elsewhere = clock() - timedelta(seconds=30)
    await commit_sql(
        ctx,
        update(SlaTimer).where(SlaTimer.id == w[0].id).values(fired_at=elsewhere),
        update(SlaTimer).where(SlaTimer.id == w[1].id).values(cancelled_at=elsewhere),
        update(Conversation)
        .where(Conversation.id == w[2].conversation_id)
        .values(status="resolved"),
    )
    clock.set(w[-1].due_at + timedelta(seconds=1))  # every warning is due (no breach yet)
    # the limit counts due timers, by due time: w[2] (claimed, not fired: resolved), w[3]
    assert await fire_due_timers(ctx, limit=2) == 1
    assert await warned(ctx) == [w[3].conversation_id]
    assert await fire_due_timers(ctx, limit=2) == 2
    assert await fire_due_timers(ctx, limit=2) == 1
    assert await fire_due_timers(ctx, limit=2) == 0
    assert await warned(ctx) == [t.conversation_id for t in w[3:]]
    states = await timer_states(ctx, [t.id for t in w])
    assert states[w[0].id][0] is not None and states[w[0].id][0] < clock()  # the other's
    assert states[w[1].id][0] is None and states[w[1].id][1] is not None  # still cancelled
    assert all(states[t.id][0] is not None for t in w[2:])


async def test_a_failed_round_claims_nothing(ctx, clock, monkeypatch):
    w = await waiting_with_warnings(ctx, clock, 3)
    clock.set(w[-1].due_at + timedelta(seconds=1))
    real_fire = timers.fire_timer
    calls = 0

    async def fire_then_fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the round fails after its claims")
        await real_fire(*args, **kwargs)

    monkeypatch.setattr(timers, "fire_timer", fire_then_fail)
    with pytest.raises(RuntimeError):
        await fire_due_timers(ctx)
    assert await warned(ctx) == []
    assert all(fired is None for fired, _ in (await timer_states(ctx, [t.id for t in w])).values())
    monkeypatch.setattr(timers, "fire_timer", real_fire)
    assert await fire_due_timers(ctx) == 3  # all of them, once
    assert await fire_due_timers(ctx) == 0
    assert await warned(ctx) == [t.conversation_id for t in w]

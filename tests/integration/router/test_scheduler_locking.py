"""The scheduler takes the assignment lock only when there is work (issue #16): a tick
with nothing due opens no writing unit of work (SQLite: the write lock every poll
waits for) and sends no ``pg_advisory_xact_lock`` (PostgreSQL); with work it still
fires each due timer once and assigns exactly what planning over every waiting
conversation would — on both stores.

Counted, not timed: the context's unit-of-work factory is ``bench.scheduler_lock``'s
counting subclass (injected through ``RouterContext``), which sees the assignment lock
statements with SQLAlchemy's ``after_cursor_execute`` and, on PostgreSQL, those sent
to the driver with their BEGIN (``store/pg_begin.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bench.scheduler_lock import LockMeter
from libs.common.events.interaction import Interaction
from services.router.domain.assignment import plan_assignments
from services.router.scheduler import Scheduler
from services.router.service.agents import seed_agents
from services.router.service.assigning import PAGE_MIN, drain_queues, work_item
from services.router.service.context import RouterContext
from services.router.service.interactions import Incoming, route_batch
from services.router.service.pool import assignment_pool
from services.router.store.models import Agent, Conversation, SlaTimer
from tests.helpers.interactions import telegram_chat

pytestmark = pytest.mark.integration


@pytest.fixture
async def counted(ctx: RouterContext) -> AsyncIterator[tuple[RouterContext, LockMeter]]:
    units = LockMeter(ctx.uow)
    yield replace(ctx, uow=units), units
    units.close()


def chat(clock, n: int) -> Interaction:
    return telegram_chat(clock(), str(n), f"t{n}")


async def waiting_chats(ctx: RouterContext, clock, count: int) -> list[str]:
    """``count`` chats waiting in ``general`` (every agent is offline after seeding)."""
    await seed_agents(ctx)
    ids = []
    for n in range(count):
        clock.advance(seconds=1)
        await route_batch(ctx, [Incoming(f"chat-{n}", chat(clock, n))])
    async with ctx.uow.reader() as uow:
        ids = list(
            await uow.session.scalars(select(Conversation.id).order_by(Conversation.opened_at))
        )
    assert len(ids) == count
    return ids


async def commit_sql(ctx: RouterContext, *statements) -> None:  # type: ignore[no-untyped-def]
    """Store changes committed without ``drain_queues`` (as another replica's would be)."""
    async with ctx.uow() as uow:
        for statement in statements:
            await uow.session.execute(statement)
        await uow.commit()


def online(agent_id: str, chats: int):  # type: ignore[no-untyped-def]
    return (
        update(Agent)
        .where(Agent.id == agent_id)
        .values(status="online", capacity={"chat": chats, "email": 0, "phone": 0})
    )


async def assignees(ctx: RouterContext) -> dict[str, str]:
    async with ctx.uow.reader() as uow:
        rows = await uow.session.execute(
            select(Conversation.id, Conversation.assignee_id).where(
                Conversation.assignee_id.is_not(None)
            )
        )
        return dict(rows.all())


async def planned_over_every_waiting(ctx: RouterContext) -> dict[str, str]:
    """What the scheduler assigned before issue #16: ``plan_assignments`` over the pool
    and every waiting conversation of the online agents' queues, loaded at once."""
    async with ctx.uow.reader() as uow:
        states = (await assignment_pool(uow)).online_states()
        queues = {q for s in states for q in s.queues}
        waiting = await uow.conversations.waiting(queues=queues)
    choices = plan_assignments(
        [work_item(c) for c in waiting], states, sticky=False, now=ctx.clock()
    )
    return {c.conversation_id: c.agent_id for c in choices}


async def test_idle_tick_takes_no_lock(counted, clock):
    ctx, units = counted
    await seed_agents(ctx)
    await commit_sql(ctx, online("agent-lee", 3))  # room, and nobody waiting
    units.reset()
    assert await Scheduler(ctx).tick() == 0
    assert (units.writers, units.locks) == (0, 0)


async def test_busy_tick_takes_no_lock_until_capacity_appears(counted, clock):
    """Everyone full and conversations waiting (the 1,000/s bench's steady state): no
    lock. Capacity freed by a commit that does not drain (another replica's) is served
    by the next tick."""
    ctx, units = counted
    ids = await waiting_chats(ctx, clock, 5)
    await commit_sql(ctx, online("agent-lee", 2))
    assert await drain_queues(ctx, reason="agent online") == 2
    units.reset()
    for _ in range(3):
        await Scheduler(ctx).tick()
    assert (units.writers, units.locks) == (0, 0)
    assert len(await assignees(ctx)) == 2

    await commit_sql(ctx, online("agent-lee", 3))
    units.reset()
    await Scheduler(ctx).tick()
    assert units.writers == 1  # the drain's locked round (nothing else was due)
    assert units.locks == (1 if ctx.uow.postgres else 0)
    assert set(await assignees(ctx)) == set(ids[:3])  # the oldest waiting first


async def test_room_nobody_has_the_skills_for_takes_no_lock(counted, clock):
    ctx, units = counted
    ids = await waiting_chats(ctx, clock, 3)
    await commit_sql(
        ctx,
        update(Conversation).where(Conversation.id.in_(ids)).values(skills=["ja"]),
        online("agent-smith", 3),
    )
    units.reset()
    await Scheduler(ctx).tick()
    assert (units.writers, units.locks) == (0, 0)
    assert await assignees(ctx) == {}


async def test_drain_assigns_what_planning_over_every_waiting_row_would(counted, clock):
    """Priorities, ages and skills mixed so that the first locked page (``PAGE_MIN``
    rows) assigns nothing — the urgent rows nobody has the skills for come first — and
    the next page serves the rest: the same choices as one plan over all waiting rows."""
    ctx, units = counted
    unfit = PAGE_MIN + 5
    ids = await waiting_chats(ctx, clock, unfit + 8)
    mixed = [
        ("low", ["en"]),
        ("high", []),
        ("normal", ["ko"]),
        ("high", ["en"]),
        ("low", []),
        ("normal", ["ko"]),
        ("high", ["en", "ko"]),
        ("low", []),  # waiting longest of all, at the lowest priority
    ]
    rows = [("urgent", ["ja"])] * unfit + mixed
    statements = [
        update(Conversation)
        .where(Conversation.id == cid)
        .values(priority=priority, skills=skill, queued_at=clock() - timedelta(minutes=n))
        for n, (cid, (priority, skill)) in enumerate(zip(ids, rows, strict=True))
    ]
    await commit_sql(ctx, *statements, online("agent-lee", 2), online("agent-smith", 1))
    expected = await planned_over_every_waiting(ctx)
    assert len(expected) == 3
    assert not set(expected) & set(ids[:unfit])

    units.reset()
    assert await drain_queues(ctx, reason="capacity available") == 3
    assert await assignees(ctx) == expected
    assert units.writers == 1


async def test_due_timer_fires_once_and_only_its_round_locks(counted, clock):
    ctx, units = counted
    await waiting_chats(ctx, clock, 1)  # agents offline: it waits, its timers run
    async with ctx.uow.reader() as uow:
        due = min(await uow.session.scalars(select(SlaTimer.due_at)))
    clock.set(due + timedelta(seconds=1))
    units.reset()
    assert await Scheduler(ctx).tick() >= 1
    assert units.writers == 1  # the timers' round; nothing to drain or ask
    assert units.locks == (1 if ctx.uow.postgres else 0)
    units.reset()
    assert await Scheduler(ctx).tick() == 0  # fired once
    assert (units.writers, units.locks) == (0, 0)

"""PostgreSQL: a routed poll's append-only rows are sent while the rest of the poll is
decided (``UnitOfWork.send_ahead``), ahead of the conversations they point at, under
foreign keys checked at COMMIT (migration 0011). What is stored is what routing stores
without sending ahead; a violation or a failed send fails the whole poll, nothing of it
stored; the session's own statements wait for a send in flight."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.router.service.agents import seed_agents
from services.router.service.context import RouterContext
from services.router.service.interactions import Incoming, route_batch
from services.router.store.bulk import BulkInserter, execute_mutex
from services.router.store.models import InteractionRecord, OutboxRow, SlaTimer
from tests.helpers.interactions import telegram_chat
from tests.integration.router.test_routing_golden import GOLDEN, routed_output

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("postgres_only")]


@pytest.fixture
def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("sending ahead is PostgreSQL's (SQLite's thread would wait for the GIL)")


def chats(clock: Any, numbers: range, prefix: str = "ahead") -> list[Incoming]:
    return [
        Incoming(f"{prefix}-{n}", telegram_chat(clock(), f"{prefix}{n}", f"{prefix}{n}"))
        for n in numbers
    ]


def ahead_every(ctx: RouterContext, interactions: int) -> None:
    ctx.options = replace(ctx.options, send_ahead_every=interactions)


async def count(ctx: RouterContext, model: type) -> int:
    async with ctx.uow.reader() as uow:
        return int(await uow.session.scalar(select(sa.func.count()).select_from(model)) or 0)


async def test_the_golden_output_sent_ahead_every_two_interactions(
    ctx: RouterContext, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead_every(ctx, 2)
    output = await routed_output(ctx, clock)
    golden = json.loads(GOLDEN.read_text())
    for table, rows in golden.items():
        assert output[table] == rows, f"table {table} differs from the golden output"


async def test_a_poll_sent_ahead_stores_what_one_sent_at_its_commit(
    ctx: RouterContext, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_agents(ctx)
    sends: list[int] = []
    together = BulkInserter.insert_together_on

    async def counted(self: BulkInserter, connection: Any, groups: Any, *args: Any) -> None:
        sends.append(sum(len(rows) for _, rows in groups))
        await together(self, connection, groups, *args)

    monkeypatch.setattr(BulkInserter, "insert_together_on", counted)
    ahead_every(ctx, 7)
    assert await route_batch(ctx, chats(clock, range(30))) == 30
    # every 7 interactions of 30, then halves of the last 9 (send_points), 10 rows each
    assert sends == [70, 70, 70, 40, 20, 10, 10]
    clock.advance(minutes=1)
    ahead_every(ctx, 0)
    assert await route_batch(ctx, chats(clock, range(30), prefix="plain")) == 30

    async with ctx.uow.reader() as uow:
        records = (await uow.session.execute(select(InteractionRecord))).scalars().all()
        timers = (await uow.session.execute(select(SlaTimer))).scalars().all()
        events = (
            await uow.session.execute(select(OutboxRow.conversation_id, OutboxRow.ce_type))
        ).all()
    assert len(records) == 60
    ahead = sorted(r.event_id for r in records if r.event_id.startswith("ahead"))
    assert ahead == sorted(f"ahead-{n}" for n in range(30))
    shapes: dict[str, list[tuple[str, str, int]]] = {"ahead": [], "plain": []}
    by_conversation = {r.conversation_id: r.event_id.split("-")[0] for r in records}
    for timer in timers:
        shapes[by_conversation[timer.conversation_id]].append(
            (timer.metric, timer.kind, timer.target_minutes)
        )
    assert sorted(shapes["ahead"]) == sorted(shapes["plain"]) != []
    kinds: dict[str, Counter[str]] = {"ahead": Counter(), "plain": Counter()}
    for conversation_id, ce_type in events:
        kinds[by_conversation[conversation_id]][ce_type] += 1
    assert kinds["ahead"] == kinds["plain"] != Counter()


async def test_stored_timers_cancelled_between_sends_as_without_them(
    ctx: RouterContext, clock: Any
) -> None:
    """A timer sent ahead, then cancelled, keeps its first cancellation time; a timer
    started after a cancellation is not cancelled by it: as ``cancel_timers_later``
    does for timers not written yet."""
    await route_batch(ctx, chats(clock, range(2), prefix="clock"))  # two conversations
    async with ctx.uow.reader() as uow:
        first, second = sorted(
            (await uow.session.execute(select(InteractionRecord.conversation_id))).scalars()
        )
    start = clock()

    def rows(conversation: str, cycle: int) -> tuple[dict[str, object], ...]:
        return tuple(
            {
                "conversation_id": conversation,
                "metric": "next_response",
                "kind": kind,
                "cycle": cycle,
                "target_minutes": 30,
                "clock_started_at": start,
                "breach_at": start + timedelta(minutes=30),
                "due_at": start + timedelta(minutes=24 if kind == "warning" else 30),
                "fired_at": None,
                "cancelled_at": None,
            }
            for kind in ("warning", "breach")
        )

    for conversation, ahead in ((first, True), (second, False)):
        async with ctx.uow() as uow:
            await uow.serialise_assignment(defer_foreign_keys=True)
            uow.insert_timers_later(conversation, rows(conversation, 90))
            if ahead:
                await uow.send_ahead()
            uow.cancel_timers_later(conversation, metrics=["next_response"], at=start)
            uow.insert_timers_later(conversation, rows(conversation, 91))
            if ahead:
                await uow.send_ahead()
            uow.cancel_timers_later(
                conversation, metrics=["next_response"], at=start + timedelta(minutes=1)
            )
            uow.insert_timers_later(conversation, rows(conversation, 92))
            await uow.commit()

    async with ctx.uow.reader() as uow:
        timers = (
            await uow.session.execute(
                select(
                    SlaTimer.conversation_id, SlaTimer.cycle, SlaTimer.kind, SlaTimer.cancelled_at
                )
                .where(SlaTimer.cycle >= 90)
                .order_by(SlaTimer.cycle, SlaTimer.kind)
            )
        ).all()
    sent = [(c, k, at) for conversation, c, k, at in timers if conversation == first]
    plain = [(c, k, at) for conversation, c, k, at in timers if conversation == second]
    later = start + timedelta(minutes=1)
    assert plain == [
        (90, "breach", start),
        (90, "warning", start),
        (91, "breach", later),
        (91, "warning", later),
        (92, "breach", None),
        (92, "warning", None),
    ]
    assert sent == plain


async def test_a_foreign_key_violated_ahead_fails_the_poll_at_its_commit(
    ctx: RouterContext, clock: Any
) -> None:
    with pytest.raises(IntegrityError):
        async with ctx.uow() as uow:
            await uow.serialise_assignment(defer_foreign_keys=True)
            uow.insert_later(
                InteractionRecord,
                {
                    "event_id": "orphan",
                    "conversation_id": "no-such-conversation",
                    "contact_id": "no-such-contact",
                    "channel": "chat",
                    "direction": "inbound",
                    "kind": "message",
                    "occurred_at": clock(),
                    "processed_at": clock(),
                    "message_id": None,
                    "author": "x",
                    "subject": None,
                    "text": "",
                    "note": "",
                },
            )
            await uow.send_ahead()  # accepted by the server: checked at COMMIT
            await uow.commit()
    assert await count(ctx, InteractionRecord) == 0


async def test_a_failed_send_ahead_fails_the_poll_and_nothing_of_it_is_stored(
    ctx: RouterContext, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_agents(ctx)
    together = BulkInserter.insert_together_on
    calls = 0

    async def failing_second(self: BulkInserter, connection: Any, groups: Any, *args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raw = await connection.get_raw_connection()
            await raw.driver_connection.execute("SELECT 1/0")  # the server's error
        await together(self, connection, groups, *args)

    monkeypatch.setattr(BulkInserter, "insert_together_on", failing_second)
    ahead_every(ctx, 5)
    batch = chats(clock, range(20))
    with pytest.raises(asyncpg.DivisionByZeroError):
        await route_batch(ctx, batch)
    assert await count(ctx, InteractionRecord) == 0
    assert await count(ctx, OutboxRow) == 0
    monkeypatch.setattr(BulkInserter, "insert_together_on", together)
    assert await route_batch(ctx, batch) == 20  # redelivered: routed once, in full
    assert await count(ctx, InteractionRecord) == 20


async def test_the_sessions_statements_wait_for_a_send_in_flight(
    ctx: RouterContext, clock: Any
) -> None:
    await route_batch(ctx, chats(clock, range(1), prefix="wait"))
    async with ctx.uow() as uow:
        await uow.serialise_assignment(defer_foreign_keys=True)
        [conversation] = (
            await uow.session.execute(select(InteractionRecord.conversation_id))
        ).scalars()
        for cycle in range(100, 400):
            uow.insert_later(
                SlaTimer,
                {
                    "conversation_id": conversation,
                    "metric": "first_response",
                    "kind": "breach",
                    "cycle": cycle,
                    "target_minutes": 30,
                    "clock_started_at": clock(),
                    "breach_at": clock(),
                    "due_at": clock(),
                    "fired_at": None,
                    "cancelled_at": None,
                },
            )
        await uow.send_ahead()
        await asyncio.sleep(0)  # the send's first step: its COPY is in flight
        assert uow.sending_ahead
        # no "another operation is in progress": it waits for the send's COPY
        stored = await uow.session.scalar(
            select(sa.func.count()).select_from(SlaTimer).where(SlaTimer.cycle >= 100)
        )
        assert stored == 300
        await uow.commit()


async def test_the_adapter_lock_is_where_it_is_taken_from(engine: AsyncEngine) -> None:
    """``bulk.execute_mutex`` reads SQLAlchemy's asyncpg adapter's private lock."""
    async with engine.connect() as connection:
        mutex = execute_mutex(connection)
        async with mutex:
            assert mutex.locked()
        await connection.execute(sa.text("SELECT 1"))  # takes and releases it


async def test_every_foreign_key_is_deferrable_initially_immediate(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        keys = (
            await connection.execute(
                sa.text(
                    "SELECT conname, condeferrable, condeferred FROM pg_constraint "
                    "WHERE contype = 'f'"
                )
            )
        ).all()
    assert len(keys) >= 9
    assert all(deferrable and not deferred for _, deferrable, deferred in keys), keys

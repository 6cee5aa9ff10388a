"""``UnitOfWork.add_new``: new conversations inserted in one multi-row INSERT at flush,
then tracked like loaded rows — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, text

from services.router.store.models import Contact, Conversation, SlaTimer
from services.router.store.unit_of_work import new_row

pytestmark = pytest.mark.integration


def conversation(number: int, at, **values) -> Conversation:
    return new_row(
        Conversation,
        {
            "id": f"conv-{number}",
            "reference": f"C-{number}",
            "contact_id": "contact-1",
            "channel": "chat",
            "provider": "line",
            "integration": "main",
            "status": "open",
            "queue": "general",
            "priority": "normal",
            "opened_at": at,
            "last_activity_at": at,
            **values,
        },
    )


async def test_new_rows_get_defaults_stay_tracked_and_leave_json_null_as_sql_null(ctx, clock):
    now = clock()
    async with ctx.uow() as uow:
        uow.insert_later(Contact, {"id": "contact-1", "created_at": now})
        plain = conversation(1, now)
        with_path = conversation(2, now, reply_path={"provider": "line", "user_id": "U1"})
        uow.add_new(plain)
        uow.add_new(with_path)
        await uow.flush()  # inserted here (a mid-batch flush, as a clock stop does)
        plain.status = "pending"  # changed after the insert: must become an UPDATE
        plain.last_activity_at = now + timedelta(minutes=5)
        later = conversation(3, now)
        uow.add_new(later)  # a second flush inserts what came after the first
        await uow.commit()

    async with ctx.uow.reader() as uow:
        found, _ = await uow.conversations.search(filters={}, offset=0, limit=10)
        stored = {c.id: c for c in found}
        assert set(stored) == {"conv-1", "conv-2", "conv-3"}
        first = stored["conv-1"]
        assert first.status == "pending"
        assert first.last_activity_at == now + timedelta(minutes=5)
        # the model's Python-side defaults, as the ORM's own INSERT would write them
        assert (first.tags, first.references, first.customer, first.automated) == (
            [],
            [],
            {},
            False,
        )
        assert (first.clock_cycle, first.escalation_level, first.breached) == (0, 0, False)
        assert stored["conv-2"].reply_path == {"provider": "line", "user_id": "U1"}
        nulls = await uow.session.scalars(
            text("SELECT id FROM conversations WHERE reply_path IS NULL ORDER BY id")
        )
        assert list(nulls) == ["conv-1", "conv-3"]


async def test_a_rolled_back_unit_inserts_nothing(ctx, clock):
    async with ctx.uow() as uow:
        uow.insert_later(Contact, {"id": "contact-1", "created_at": clock()})
        uow.add_new(conversation(1, clock()))
        await uow.flush()
        await uow.rollback()
    async with ctx.uow.reader() as uow:
        assert await uow.conversations.get("conv-1") is None


async def test_update_later_writes_plain_row_updates_in_one_statement_per_shape(ctx, clock):
    now = clock()
    async with ctx.uow() as uow:
        uow.insert_later(Contact, {"id": "contact-1", "created_at": now})
        for number in range(1, 4):
            uow.add_new(conversation(number, now))
        await uow.commit()

    later = now + timedelta(minutes=3)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sync_engine = ctx.uow.engine.sync_engine
    async with ctx.uow() as uow:
        for number in range(1, 4):
            uow.update_later(Conversation, f"conv-{number}", {"status": "pending"})
        uow.update_later(Conversation, "conv-2", {"tags": ["vip"], "last_activity_at": later})
        uow.update_later(Conversation, "conv-2", {"status": "assigned"})  # merges, wins
        event.listen(sync_engine, "before_cursor_execute", seen)
        try:
            with ctx.uow.watching_driver(statements.append):  # SQLite: to the driver
                await uow.commit()
        finally:
            event.remove(sync_engine, "before_cursor_execute", seen)

    if ctx.uow.postgres:  # both shapes chained in one statement (insert_together)
        [chained] = [s for s in statements if 'UPDATE "conversations"' in s]
        assert chained.count('UPDATE "conversations"') == 2, chained
    else:
        assert len([s for s in statements if s.startswith("UPDATE conversations")]) == 2
    async with ctx.uow.reader() as uow:
        found, _ = await uow.conversations.search(filters={}, offset=0, limit=10)
        stored = {c.id: c for c in found}
    assert [stored[f"conv-{n}"].status for n in range(1, 4)] == ["pending", "assigned", "pending"]
    assert stored["conv-2"].tags == ["vip"] and stored["conv-1"].tags == []
    assert stored["conv-2"].last_activity_at == later
    assert stored["conv-1"].last_activity_at == now


def timer(conversation_id: str, metric: str, cycle: int, at) -> dict[str, object]:
    return {
        "conversation_id": conversation_id,
        "metric": metric,
        "kind": "breach",
        "cycle": cycle,
        "target_minutes": 60,
        "clock_started_at": at,
        "breach_at": at + timedelta(minutes=60),
        "due_at": at + timedelta(minutes=60),
        "fired_at": None,
        "cancelled_at": None,
    }


async def test_cancel_timers_later_matches_flush_then_cancel_pending_in_one_statement(ctx, clock):
    now = clock()
    t1, t2 = now + timedelta(minutes=1), now + timedelta(minutes=2)
    async with ctx.uow() as uow:
        uow.insert_later(Contact, {"id": "contact-1", "created_at": now})
        uow.add_new(conversation(1, now))
        uow.insert_later(SlaTimer, timer("conv-1", "first_response", 1, now))  # stored
        uow.insert_later(SlaTimer, timer("conv-1", "resolution", 1, now))  # stored
        await uow.commit()

    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sync_engine = ctx.uow.engine.sync_engine
    async with ctx.uow() as uow:
        uow.insert_later(SlaTimer, timer("conv-1", "first_response", 2, now))  # before: cancelled
        uow.cancel_timers_later("conv-1", metrics=["first_response"], at=t1)
        uow.insert_later(SlaTimer, timer("conv-1", "first_response", 3, now))  # after: pending...
        uow.cancel_timers_later("conv-1", metrics=["first_response", "resolution"], at=t2)
        uow.insert_later(SlaTimer, timer("conv-1", "resolution", 2, now))  # after: pending
        event.listen(sync_engine, "before_cursor_execute", seen)
        try:
            with ctx.uow.watching_driver(statements.append):  # SQLite: to the driver
                await uow.commit()
        finally:
            event.remove(sync_engine, "before_cursor_execute", seen)

    assert len([s for s in statements if s.startswith("UPDATE sla_timers")]) == 1
    async with ctx.uow.reader() as uow:
        timers = await uow.timers.for_conversation("conv-1")
    cancelled = {(t.metric, t.cycle): t.cancelled_at for t in timers}
    assert cancelled == {
        ("first_response", 1): t1,  # the first cancellation covering it wins
        ("resolution", 1): t2,
        ("first_response", 2): t1,
        ("first_response", 3): t2,  # ...until the second cancellation
        ("resolution", 2): None,  # started after both
    }

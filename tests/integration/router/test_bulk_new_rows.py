"""``UnitOfWork.add_new``: new conversations inserted in one multi-row INSERT at flush,
then tracked like loaded rows — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from services.router.store.models import Contact, Conversation
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

"""Transactional outbox: routing events stored with the change that caused them."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.events.routing import RoutingEvent
from libs.common.ids import deterministic_id
from services.router.store.models import OutboxRow


class BulkWriter(Protocol):
    def insert_later(self, model: type, values: dict[str, object]) -> None: ...


class OutboxWriter:
    """Adds rows; the event id is derived from the cause and the event's ordinal,
    so redoing the same work (after a rollback) yields the same ids."""

    def __init__(self, uow: BulkWriter) -> None:
        self._uow = uow
        self._ordinals: dict[str, int] = {}
        self.added: list[str] = []

    def add(self, event: RoutingEvent, *, cause: str) -> str:
        ordinal = self._ordinals.get(cause, 0)
        self._ordinals[cause] = ordinal + 1
        event_id = deterministic_id("router.outbox", cause, ordinal)
        row = {
            "event_id": event_id,
            "ce_type": event.ce_type,
            "conversation_id": event.conversation.conversation_id,
            "occurred_at": event.occurred_at,
            "payload": event.model_dump_json(),
            "sent_at": None,
        }
        self._uow.insert_later(OutboxRow, row)
        self.added.append(event_id)
        return event_id


class PendingEvent(NamedTuple):
    """An unsent outbox row, read as a plain tuple (the relay reads thousands)."""

    id: int
    event_id: str
    ce_type: str
    conversation_id: str
    occurred_at: datetime
    payload: str


async def unsent_rows(session: AsyncSession, *, limit: int) -> list[PendingEvent]:
    table = OutboxRow.__table__
    query = (
        select(
            table.c.id,
            table.c.event_id,
            table.c.ce_type,
            table.c.conversation_id,
            table.c.occurred_at,
            table.c.payload,
        )
        .where(table.c.sent_at.is_(None))
        .order_by(table.c.id)
        .limit(limit)
    )
    return [PendingEvent(*row) for row in await session.execute(query)]


async def mark_sent(session: AsyncSession, ids: list[int], at: datetime) -> None:
    await session.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(sent_at=at))


async def rows_for_conversation(session: AsyncSession, conversation_id: str) -> list[OutboxRow]:
    query = (
        select(OutboxRow).where(OutboxRow.conversation_id == conversation_id).order_by(OutboxRow.id)
    )
    return list((await session.scalars(query)).all())

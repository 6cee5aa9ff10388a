"""Read models: conversation detail with timeline, and desk metrics."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from services.router.service.agents import NotFound
from services.router.service.context import RouterContext
from services.router.store.models import Conversation, CsatRating, Reply
from services.router.store.outbox import rows_for_conversation
from services.router.store.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # interaction | event
    type: str
    summary: str
    detail: dict[str, object] = field(default_factory=dict)


async def conversation_detail(
    ctx: RouterContext, conversation_id: str
) -> tuple[Conversation, list[TimelineEntry]]:
    async with ctx.uow.reader() as uow:
        conversation = await uow.conversations.get(conversation_id)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id}")
        entries = [
            TimelineEntry(
                at=r.occurred_at,
                kind="interaction",
                type=f"{r.direction}.{r.kind}",
                summary=(r.text or r.subject or "")[:300],
                detail={"event_id": r.event_id, "author": r.author, "note": r.note},
            )
            for r in await uow.interactions.for_conversation(conversation_id)
        ]
        entries += [_reply_entry(r) for r in await _replies(uow, conversation_id)]
        for row in await rows_for_conversation(uow.session, conversation_id):
            payload = json.loads(row.payload)
            entries.append(
                TimelineEntry(
                    at=row.occurred_at,
                    kind="event",
                    type=row.ce_type,
                    summary=payload.get("reason") or row.ce_type,
                    detail={"event_id": row.event_id, "sent": row.sent},
                )
            )
    return conversation, sorted(entries, key=lambda e: (e.at, e.kind != "interaction"))


async def _replies(uow: UnitOfWork, conversation_id: str) -> list[Reply]:
    query = select(Reply).where(Reply.conversation_id == conversation_id)
    return list(await uow.session.scalars(query))


def _reply_entry(reply: Reply) -> TimelineEntry:
    """One entry per reply, at its request time, with the state it reached and when."""
    times = {
        name: value.isoformat()
        for name in ("accepted_at", "sent_at", "delivered_at", "read_at", "failed_at")
        if (value := getattr(reply, name)) is not None
    }
    return TimelineEntry(
        at=reply.created_at,
        kind="reply",
        type=f"reply.{reply.state}",
        summary=reply.text[:300],
        detail={
            "reply_id": reply.id,
            "state": reply.state,
            "agent_id": reply.agent_id,
            "provider": reply.provider,
            "provider_message_id": reply.provider_message_id,
            "error_code": reply.error_code,
            "error_detail": reply.error_detail,
            **times,
        },
    )


@dataclass
class MetricsRow:
    group: str
    opened: int = 0
    resolved: int = 0
    first_response_minutes_avg: float | None = None
    first_response_minutes_p50: float | None = None
    resolution_minutes_avg: float | None = None
    sla_attainment: float | None = None
    backlog: int = 0
    waiting: int = 0
    csat_average: float | None = None
    csat_responses: int = 0


GROUPERS: dict[str, Callable[[Conversation], str]] = {
    "queue": lambda c: c.queue,
    "channel": lambda c: c.channel,
    "day": lambda c: c.opened_at.date().isoformat(),
    "all": lambda c: "all",
}


def _minutes(pairs: Iterable[tuple[datetime | None, datetime | None]]) -> list[float]:
    return [(b - a).total_seconds() / 60 for a, b in pairs if a is not None and b is not None]


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def summarise(
    group: str,
    conversations: list[Conversation],
    active: list[Conversation],
    ratings: dict[str, int],
) -> MetricsRow:
    """Period figures over ``conversations`` (opened in the period); backlog is current."""
    first = _minutes((c.opened_at, c.first_response_at) for c in conversations)
    resolution = _minutes((c.opened_at, c.resolved_at) for c in conversations)
    measured = [c for c in conversations if c.policy and not c.automated]
    scores = [ratings[c.id] for c in conversations if c.id in ratings]
    return MetricsRow(
        group=group,
        opened=len(conversations),
        resolved=sum(1 for c in conversations if c.resolved_at is not None),
        first_response_minutes_avg=_mean(first),
        first_response_minutes_p50=round(statistics.median(first), 2) if first else None,
        resolution_minutes_avg=_mean(resolution),
        sla_attainment=(
            round(sum(1 for c in measured if not c.breached) / len(measured), 4)
            if measured
            else None
        ),
        backlog=len(active),
        waiting=sum(1 for c in active if c.assignee_id is None),
        csat_average=_mean([float(s) for s in scores]),
        csat_responses=len(scores),
    )


async def desk_metrics(
    ctx: RouterContext, *, since: datetime, until: datetime, group_by: str
) -> list[MetricsRow]:
    grouper = GROUPERS[group_by]
    async with ctx.uow.reader() as uow:
        conversations = [
            c for c in await uow.conversations.all_since(since) if c.opened_at <= until
        ]
        active = await uow.conversations.active()
        ratings = {
            r.conversation_id: r.rating
            for r in await uow.session.scalars(
                select(CsatRating).where(CsatRating.rated_at >= since)
            )
        }
    groups: dict[str, list[Conversation]] = defaultdict(list)
    backlog: dict[str, list[Conversation]] = defaultdict(list)
    for conversation in conversations:
        groups[grouper(conversation)].append(conversation)
    for conversation in active:
        backlog[grouper(conversation)].append(conversation)
    names = sorted(set(groups) | set(backlog))
    return [summarise(name, groups[name], backlog[name], ratings) for name in names]

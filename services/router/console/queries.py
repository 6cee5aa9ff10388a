"""What the console's pages read: plain queries over the router's store (no business rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select

from services.router.console.reports import Facts
from services.router.service.context import RouterContext
from services.router.store.models import (
    Agent,
    ApiKey,
    Contact,
    Conversation,
    CsatRating,
    InteractionRecord,
    SlaTimer,
)

ACTIVE = ("open", "pending", "waiting_on_customer")


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the API key's role, and the agent with their queues."""

    key: ApiKey
    agent: Agent | None

    @property
    def supervisor(self) -> bool:
        return self.key.role in ("supervisor", "admin")

    @property
    def name(self) -> str:
        return self.key.agent_id or f"{self.key.role}:{self.key.name}"

    @property
    def queues(self) -> list[str]:
        return list(self.agent.queues) if self.agent else []

    def may_see(self, conversation: Conversation) -> bool:
        if self.supervisor:
            return True
        mine = self.agent is not None and conversation.assignee_id == self.agent.id
        return mine or conversation.queue in self.queues


async def viewer_for(ctx: RouterContext, key_id: str) -> Viewer | None:
    async with ctx.uow.reader() as uow:
        key = await uow.api_keys.by_id(key_id)
        if key is None or key.revoked_at is not None:
            return None
        agent = await uow.agents.get(key.agent_id) if key.agent_id else None
    return Viewer(key, agent)


async def inbox(
    ctx: RouterContext, viewer: Viewer, filters: dict[str, Any], *, limit: int
) -> tuple[list[Conversation], int]:
    """Newest activity first; agents see their own and their queues' conversations."""
    query = select(Conversation)
    status = filters.get("status")
    query = (
        query.where(Conversation.status == status)
        if status
        else query.where(Conversation.status.in_(ACTIVE))
    )
    for column in ("channel", "queue", "language", "priority"):
        if filters.get(column):
            query = query.where(getattr(Conversation, column) == filters[column])
    if filters.get("breached") is not None:
        query = query.where(Conversation.breached.is_(filters["breached"]))
    if not viewer.supervisor:
        mine = Conversation.assignee_id == (viewer.agent.id if viewer.agent else "")
        query = query.where(or_(mine, Conversation.queue.in_(viewer.queues)))
    async with ctx.uow.reader() as uow:
        total = await uow.session.scalar(select(func.count()).select_from(query.subquery()))
        query = query.order_by(Conversation.last_activity_at.desc()).limit(limit)
        rows = list(await uow.session.scalars(query))
    return rows, int(total or 0)


async def clock_times(
    ctx: RouterContext, conversation_ids: list[str]
) -> dict[str, tuple[datetime | None, datetime | None]]:
    """(warning_at, breach_at) of each conversation's earliest running SLA clock."""
    if not conversation_ids:
        return {}
    query = select(SlaTimer).where(
        SlaTimer.conversation_id.in_(conversation_ids), SlaTimer.cancelled_at.is_(None)
    )
    times: dict[str, dict[str, datetime]] = {}
    async with ctx.uow.reader() as uow:
        for timer in await uow.session.scalars(query):
            slot = times.setdefault(timer.conversation_id, {})
            if timer.kind not in slot or timer.due_at < slot[timer.kind]:
                slot[timer.kind] = timer.due_at
    return {cid: (t.get("warning"), t.get("breach")) for cid, t in times.items()}


@dataclass(frozen=True)
class ContactCard:
    contact: Contact | None
    identities: list[tuple[str, str]]
    previous: list[Conversation]


async def contact_card(ctx: RouterContext, conversation: Conversation) -> ContactCard:
    async with ctx.uow.reader() as uow:
        contact = await uow.contacts.get(conversation.contact_id)
        identities = await uow.contacts.identities(conversation.contact_id)
        query = (
            select(Conversation)
            .where(
                Conversation.contact_id == conversation.contact_id,
                Conversation.id != conversation.id,
            )
            .order_by(Conversation.opened_at.desc())
            .limit(20)
        )
        previous = list(await uow.session.scalars(query))
    return ContactCard(contact, [(i.kind, i.value) for i in identities], previous)


async def agents_board(ctx: RouterContext) -> list[tuple[Agent, dict[str, int]]]:
    async with ctx.uow.reader() as uow:
        agents = await uow.agents.all()
        loads = await uow.conversations.loads(a.id for a in agents)
    return [(a, loads.get(a.id, {})) for a in sorted(agents, key=lambda a: a.id)]


async def open_work_of(ctx: RouterContext, agent_id: str) -> list[str]:
    async with ctx.uow.reader() as uow:
        return [c.id for c in await uow.conversations.active_for_agent(agent_id)]


async def report_facts(
    ctx: RouterContext, *, since: datetime, queue: str | None, channel: str | None
) -> list[Facts]:
    query = select(Conversation).where(Conversation.opened_at >= since)
    if queue:
        query = query.where(Conversation.queue == queue)
    if channel:
        query = query.where(Conversation.channel == channel)
    async with ctx.uow.reader() as uow:
        conversations = list(await uow.session.scalars(query))
        ratings = {
            r.conversation_id: r.rating
            for r in await uow.session.scalars(
                select(CsatRating).where(CsatRating.rated_at >= since)
            )
        }
    return [
        Facts(
            channel=c.channel,
            queue=c.queue,
            opened_at=c.opened_at,
            first_response_at=c.first_response_at,
            first_response_due_at=c.first_response_due_at,
            resolved_at=c.resolved_at,
            measured=bool(c.policy) and not c.automated,
            breached=c.breached,
            csat=ratings.get(c.id),
        )
        for c in conversations
    ]


async def message_texts(ctx: RouterContext, conversation_id: str) -> dict[str, str]:
    """Whole customer/agent texts by event id (the timeline's summaries are cut at 300)."""
    query = select(InteractionRecord.event_id, InteractionRecord.text).where(
        InteractionRecord.conversation_id == conversation_id
    )
    async with ctx.uow.reader() as uow:
        return {event_id: text for event_id, text in await uow.session.execute(query)}

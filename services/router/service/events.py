"""Snapshots and the emitter that puts routing events into the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from libs.common.events.interaction import Channel, CustomerIdentity, Flags, ReplyPath
from libs.common.events.routing import AgentRef, ConversationSnapshot, Priority, RoutingEvent
from services.router.service.context import RouterContext
from services.router.service.pool import assignment_pool
from services.router.store.models import Agent, Conversation
from services.router.store.unit_of_work import UnitOfWork

MAX_REFERENCES = 20


def agent_ref(agent: Agent | None) -> AgentRef | None:
    if agent is None:
        return None
    return AgentRef(agent_id=agent.id, name=agent.name, email=agent.email, locale=agent.locale)


class Emitter:
    """Builds snapshots and adds events for one cause (interaction, timer, request)."""

    def __init__(
        self,
        uow: UnitOfWork,
        ctx: RouterContext,
        *,
        cause: str,
        now: datetime,
        uses_pool: bool = True,
    ) -> None:
        #: False where nothing is assigned: agents are read one by one, not as the pool
        self.uses_pool = uses_pool
        self.uow = uow
        self.ctx = ctx
        self.cause = cause
        self.now = now
        self._parsed: dict[tuple[str, int], tuple[object, object]] = {}
        self._refs: dict[str, AgentRef | None] = {}
        self._last_snapshot: tuple[tuple[object, ...], ConversationSnapshot] | None = None

    async def agent(self, agent_id: str | None) -> Agent | None:
        if agent_id is None:
            return None
        if not self.uses_pool:  # e.g. a reply: no assignment, so no agent loads to read
            return await self.uow.agents.get(agent_id)
        return (await assignment_pool(self.uow)).agents.get(agent_id)

    def _customer(self, conversation: Conversation) -> CustomerIdentity:
        # parsed once per stored value: one cause usually emits several events
        return self._parse(CustomerIdentity, conversation.customer)  # type: ignore[return-value]

    def _flags(self, conversation: Conversation) -> Flags:
        return self._parse(Flags, conversation.customer_flags)  # type: ignore[return-value]

    def already_parsed(self, raw: dict[str, object] | None, parsed: object) -> None:
        """``raw`` was dumped from ``parsed`` (the interaction's own models): no re-parse."""
        self._parsed[(type(parsed).__name__, id(raw))] = (raw, parsed)

    def _parse(self, model: type, raw: dict[str, object] | None) -> object:
        key = (model.__name__, id(raw))
        cached = self._parsed.get(key)
        if cached is not None and cached[0] is raw:  # the very same stored value
            return cached[1]
        parsed = model.model_validate(raw or {})  # type: ignore[attr-defined]
        self._parsed[key] = (raw, parsed)
        return parsed

    def _agent_ref(self, agent: Agent | None) -> AgentRef | None:
        if agent is None:
            return None
        ref = self._refs.get(agent.id)
        if ref is None:
            ref = self._refs[agent.id] = agent_ref(agent)
        return ref

    async def snapshot(self, conversation: Conversation) -> ConversationSnapshot:
        """The conversation as events carry it; one cause often emits several events
        in a row over an unchanged conversation (opened, routed, queued): built once."""
        key = _snapshot_key(conversation, self.ctx.config.current)
        if self._last_snapshot is not None and self._last_snapshot[0] == key:
            return self._last_snapshot[1]
        snapshot = await self._build_snapshot(conversation)
        self._last_snapshot = (key, snapshot)
        return snapshot

    async def _build_snapshot(self, conversation: Conversation) -> ConversationSnapshot:
        queue = self.ctx.config.current.policies.queue(conversation.queue)
        supervisor = await self.agent(queue.supervisor if queue else None)
        return ConversationSnapshot(
            conversation_id=conversation.id,
            reference=conversation.reference,
            channel=Channel(conversation.channel),
            status=conversation.status,
            queue=conversation.queue,
            priority=Priority(conversation.priority),
            language=conversation.language,
            subject=conversation.subject,
            tags=list(conversation.tags or []),
            contact_id=conversation.contact_id,
            customer=self._customer(conversation),
            customer_flags=self._flags(conversation),
            assignee=self._agent_ref(await self.agent(conversation.assignee_id)),
            supervisor=self._agent_ref(supervisor),
            last_message_id=conversation.last_message_id,
            references=list(conversation.references or [])[-MAX_REFERENCES:],
            first_response_due_at=conversation.first_response_due_at,
            reply_path=self._reply_path(conversation),
            customer_last_inbound_at=conversation.customer_last_inbound_at,
        )

    def _reply_path(self, conversation: Conversation) -> ReplyPath | None:
        if not conversation.reply_path:
            return None
        return self._parse(ReplyPath, conversation.reply_path)  # type: ignore[return-value]

    async def emit(
        self,
        event_type: type[RoutingEvent],
        conversation: Conversation,
        *,
        reason: str | None = None,
        **fields: Any,
    ) -> str:
        event = event_type(
            conversation=await self.snapshot(conversation),
            occurred_at=self.now,
            cause_event_id=self.cause,
            reason=reason,
            **fields,
        )
        return self.uow.outbox.add(event, cause=self.cause)


def _snapshot_key(conversation: Conversation, config: object) -> tuple[object, ...]:
    """Everything a snapshot is built from, compared by value (the config by identity)."""
    return (
        config,
        conversation.id,
        conversation.reference,
        conversation.channel,
        conversation.status,
        conversation.queue,
        conversation.priority,
        conversation.language,
        conversation.subject,
        tuple(conversation.tags or ()),
        conversation.contact_id,
        conversation.customer,
        conversation.customer_flags,
        conversation.assignee_id,
        conversation.last_message_id,
        tuple(conversation.references or ()),
        conversation.first_response_due_at,
        conversation.reply_path,
        conversation.customer_last_inbound_at,
    )

"""The audit trail (issue #18): who did what, when, from where; append-only.

``record_audit`` is the one way in, for the API (a dependency records every
call) and for the console, whose actions go through the same service
functions. A row names the actor, its role, the action, what it touched
(conversation, contact, agent, API key), the caller's address and, for
changes, before → after. It never holds customer identifiers or message text:
rows outlive erasure, and an erased contact is shown by its tombstone id.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from services.router.service.context import RouterContext
from services.router.store.models import Agent, ApiKey, AuditRow, Conversation, ErasedContact
from services.router.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: str
    role: str
    action: str  # e.g. "DELETE /contacts/{contact_id}", "config.reload"
    at: datetime
    conversation_id: str | None = None
    contact_id: str | None = None
    agent_id: str | None = None
    key_id: str | None = None
    address: str | None = None
    outcome: str = "ok"
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    def with_result(self, **changes: Any) -> AuditEntry:
        return replace(self, **changes)


def _row(entry: AuditEntry) -> dict[str, object]:
    return {
        "at": entry.at,
        "actor": entry.actor[:200],
        "role": entry.role,
        "action": entry.action[:120],
        "conversation_id": entry.conversation_id,
        "contact_id": entry.contact_id,
        "agent_id": entry.agent_id,
        "key_id": entry.key_id,
        "address": entry.address,
        "outcome": entry.outcome[:40],
        "before": entry.before,
        "after": entry.after,
    }


def record_audit(uow: UnitOfWork, entry: AuditEntry) -> None:
    """Add the row to this unit of work: committed with the change it describes."""
    uow.insert_later(AuditRow, _row(entry))


async def append_audit(ctx: RouterContext, entry: AuditEntry) -> None:
    """Record in a transaction of its own (actions that commit nothing here)."""
    async with ctx.uow() as uow:
        record_audit(uow, entry)
        await uow.commit()


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[str]
) -> str | None:
    """The caller's address. ``X-Forwarded-For`` is believed only when the peer is a
    configured trusted proxy; then the right-most address that is not one of them."""
    if peer is None or not forwarded_for or not _trusted(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer


def _trusted(address: str, trusted: Iterable[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in trusted)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    conversation_id: str | None = None
    contact: str | None = None  # a contact id or the tombstone id of an erased one
    since: datetime | None = None
    until: datetime | None = None
    after_id: int | None = None  # paging: rows after this id
    limit: int = 100


@dataclass(frozen=True, slots=True)
class AuditRecord:
    row: AuditRow
    contact: str | None  # the contact id, or its tombstone id when erased


async def read_audit(ctx: RouterContext, wanted: AuditFilter) -> list[AuditRecord]:
    async with ctx.uow.reader() as uow:
        query: Select[Any] = select(AuditRow, ErasedContact.tombstone_id).outerjoin(
            ErasedContact, ErasedContact.contact_id == AuditRow.contact_id
        )
        if wanted.actor:
            query = query.where(AuditRow.actor == wanted.actor)
        if wanted.action:
            query = query.where(AuditRow.action == wanted.action)
        if wanted.conversation_id:
            query = query.where(AuditRow.conversation_id == wanted.conversation_id)
        if wanted.contact:
            query = query.where(
                (AuditRow.contact_id == wanted.contact)
                | (ErasedContact.tombstone_id == wanted.contact)
            )
        if wanted.since:
            query = query.where(AuditRow.at >= wanted.since)
        if wanted.until:
            query = query.where(AuditRow.at < wanted.until)
        if wanted.after_id is not None:
            query = query.where(AuditRow.id > wanted.after_id)
        query = query.order_by(AuditRow.id).limit(wanted.limit)
        rows = (await uow.session.execute(query)).all()
    return [AuditRecord(row, tombstone or row.contact_id) for row, tombstone in rows]


async def target_state(
    ctx: RouterContext,
    *,
    conversation_id: str | None = None,
    agent_id: str | None = None,
    key_id: str | None = None,
    contact_id: str | None = None,
) -> dict[str, Any] | None:
    """What an action can change, as plain values: conversation routing state, an
    agent's status and queues, an API key's role and revocation. No customer data."""
    del contact_id  # a contact's state is its personal data: never copied here
    state: dict[str, Any] = {}
    async with ctx.uow.reader() as uow:
        if conversation_id:
            conversation = await uow.session.get(Conversation, conversation_id)
            if conversation is not None:
                state["conversation"] = {
                    "status": conversation.status,
                    "queue": conversation.queue,
                    "assignee_id": conversation.assignee_id,
                    "priority": conversation.priority,
                    "tags": list(conversation.tags),
                    "escalation_level": conversation.escalation_level,
                }
        if agent_id:
            agent = await uow.session.get(Agent, agent_id)
            if agent is not None:
                state["agent"] = {
                    "name": agent.name,
                    "status": agent.status,
                    "queues": list(agent.queues),
                    "skills": list(agent.skills),
                    "capacity": dict(agent.capacity),
                }
        if key_id:
            key = await uow.session.get(ApiKey, key_id)
            if key is not None:
                state["key"] = {
                    "role": key.role,
                    "name": key.name,
                    "agent_id": key.agent_id,
                    "revoked": key.revoked_at is not None,
                }
    return state or None


#: Path parameters that name what an action touched.
TARGET_PARAMS = ("conversation_id", "contact_id", "agent_id", "key_id")


async def snapshot_targets(
    ctx: RouterContext, path_params: Mapping[str, str]
) -> dict[str, Any] | None:
    """``target_state`` of what a request's path names; taken before the action (by
    the API key check) and after it (by the audit middleware)."""
    wanted = {name: path_params[name] for name in TARGET_PARAMS if name in path_params}
    if not wanted:
        return None
    try:
        return await target_state(ctx, **wanted)
    except Exception:  # an unreadable snapshot must not fail the action
        log.exception("audit snapshot failed for %s", wanted)
        return None

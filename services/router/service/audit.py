"""The audit trail (issue #18): who did what, when, from where; append-only.

A row names the actor, its role, the action, what it touched (conversation,
contact, agent, API key), the caller's address and, for changes, before →
after. It never holds customer identifiers or message text: rows outlive
erasure, and an erased contact is shown by its tombstone id.

**No committed action without its row.** An API or console action announces
itself before it runs (:func:`begin_action`: who, what, the state before).
The unit of work calls :func:`audit_in_transaction` just before every commit;
the first transaction the action commits carries the action's row (with the
state after, read inside that transaction), so the change and its row commit
together or not at all — a process killed after the commit leaves both, a
failed audit insert rolls the change back. When the action is over
(:func:`finish_action`), a second row is added only if the end differs from
what was recorded (a refusal after a partial change, more transactions that
changed more, extra facts); an action that committed nothing (a refusal, a
no-op) is recorded then, in its own transaction — it changed nothing, so a
crash in between leaves no change unaudited.

Configuration reloads record their row first and apply the new configuration
only once it is committed (:func:`services.router.service.config_reload`);
API-key changes made outside the API (CLI, bootstrap) record theirs in the
key's own transaction.
"""

from __future__ import annotations

import asyncio
import getpass
import ipaddress
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

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
    """Add the row to this unit of work: committed with the change it describes.

    A service that records its own row (richer than the request's) thereby
    stands in for the running action's row."""
    uow.insert_later(AuditRow, _row(entry))
    pending = _running_here()
    if pending is not None:
        pending.carried_by = uow


@dataclass(eq=False)
class PendingAction:
    """An API or console action under way: its row rides its first commit."""

    entry: AuditEntry
    before: dict[str, Any] | None
    targets: dict[str, str]  # conversation_id / agent_id / key_id it touches
    task: asyncio.Task[Any] | None
    carried_by: UnitOfWork | None = None  # the transaction holding the row
    recorded_after: dict[str, Any] | None = None

    @property
    def recorded(self) -> bool:
        """The row is committed (its transaction committed)."""
        return self.carried_by is not None and self.carried_by.committed


_running: ContextVar[PendingAction | None] = ContextVar("omnidesk_audit_action", default=None)


def begin_action(
    entry: AuditEntry, *, before: dict[str, Any] | None, targets: Mapping[str, str | None]
) -> PendingAction:
    """Announce an action of this task; its commits carry its row from now on."""
    pending = PendingAction(
        entry=entry,
        before=before,
        targets={k: v for k, v in targets.items() if k in TARGET_PARAMS and v},
        task=asyncio.current_task(),
    )
    _running.set(pending)
    return pending


def running_entry() -> AuditEntry | None:
    """The row of the action this task runs, for a service that records it itself
    with what only it knows (e.g. the id of the key it created)."""
    pending = _running_here()
    return pending.entry if pending is not None else None


def detach_action() -> PendingAction | None:
    """Take the running action out of the commit hook: it records its own row (a
    configuration reload commits its row before applying anything)."""
    pending = _running_here()
    _running.set(None)
    return pending


def _running_here() -> PendingAction | None:
    """The action this task runs (a task it spawned inherits the variable, not the action)."""
    pending = _running.get()
    if pending is None or pending.task is not asyncio.current_task():
        return None
    return pending


async def audit_in_transaction(uow: UnitOfWork) -> None:
    """Before-commit hook (wired by the composition root): the running action's row
    joins the first transaction it commits, with the state after, read in it."""
    pending = _running_here()
    if pending is None or pending.recorded or pending.carried_by is uow:
        return
    await uow.flush()  # the after-state read below must see this transaction's changes
    after = await state_in(uow.session, **_state_targets(pending.targets))
    changed = pending.before != after
    entry = pending.entry.with_result(
        outcome="ok", before=pending.before if changed else None, after=after if changed else None
    )
    uow.insert_later(AuditRow, _row(entry))
    pending.carried_by, pending.recorded_after = uow, after


async def finish_action(
    ctx: RouterContext, pending: PendingAction, outcome: str, **extra: Any
) -> None:
    """The action is over: write its row now unless a commit carried it, or a second
    row when the end differs from what that one recorded. ``outcome`` "ok" or a
    2xx status means it succeeded."""
    if _running.get() is pending:
        _running.set(None)
    succeeded = outcome == "ok" or outcome.startswith("2")
    after = await snapshot_targets(ctx, pending.targets)
    if pending.recorded:
        if succeeded and not extra and after == pending.recorded_after:
            return
        # a second row, at the end: from what the first one recorded to now
        before, entry = pending.recorded_after, pending.entry.with_result(at=ctx.clock())
    else:
        before, entry = pending.before, pending.entry
    changed = before != after
    entry = entry.with_result(
        outcome=outcome,
        before=before if changed else None,
        after=({**(after or {}), **extra} if changed or extra else None),
    )
    try:
        await append_audit(ctx, entry)
    except Exception:  # nothing committed without a row reaches here unrecorded
        log.exception("audit row NOT written for %s by %s", entry.action, entry.actor)


def _state_targets(targets: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in targets.items() if k != "contact_id"}


def cli_audit_entry(ctx: RouterContext, action: str) -> AuditEntry:
    """A change made by a command on the server: the operating-system user acts."""
    return AuditEntry(actor=f"cli:{_os_user()}", role="cli", action=action, at=ctx.clock())


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers with an arbitrary uid)
        return f"uid-{os.getuid()}"


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
    async with ctx.uow.reader() as uow:
        return await state_in(
            uow.session, conversation_id=conversation_id, agent_id=agent_id, key_id=key_id
        )


async def state_in(
    session: AsyncSession,
    *,
    conversation_id: str | None = None,
    agent_id: str | None = None,
    key_id: str | None = None,
) -> dict[str, Any] | None:
    """``target_state`` read in a given session (inside the action's own transaction)."""
    state: dict[str, Any] = {}
    if conversation_id:
        conversation = await session.get(Conversation, conversation_id)
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
        agent = await session.get(Agent, agent_id)
        if agent is not None:
            state["agent"] = {
                "name": agent.name,
                "status": agent.status,
                "queues": list(agent.queues),
                "skills": list(agent.skills),
                "capacity": dict(agent.capacity),
            }
    if key_id:
        key = await session.get(ApiKey, key_id)
        if key is not None:
            state.update(key_state(key))
    return state or None


def key_state(key: ApiKey) -> dict[str, Any]:
    """An API key as the trail shows it: role, name, agent, revoked (never its hash)."""
    return {
        "key": {
            "role": key.role,
            "name": key.name,
            "agent_id": key.agent_id,
            "revoked": key.revoked_at is not None,
        }
    }


#: Path parameters that name what an action touched.
TARGET_PARAMS = ("conversation_id", "contact_id", "agent_id", "key_id")


async def snapshot_targets(
    ctx: RouterContext, path_params: Mapping[str, str]
) -> dict[str, Any] | None:
    """``target_state`` of what a request's path names: before an action (the API key
    check, the console) and when it ends (``finish_action``)."""
    wanted = {name: path_params[name] for name in TARGET_PARAMS if name in path_params}
    if not wanted:
        return None
    try:
        return await target_state(ctx, **wanted)
    except Exception:  # an unreadable snapshot must not fail the action
        log.exception("audit snapshot failed for %s", wanted)
        return None

"""GET /audit (supervisors), and the middleware that records every API action."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from services.router.api.deps import ContextDep, SupervisorKey, request_entry
from services.router.service.audit import AuditFilter, PendingAction, finish_action, read_audit
from services.router.store.models import ApiKey

log = logging.getLogger(__name__)
router = APIRouter(tags=["audit"])
#: Reads change nothing; every other call is an action.
UNAUDITED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
__all__ = ["audit_middleware", "request_entry", "router"]


class AuditRead(BaseModel):
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    outcome: str
    conversation_id: str | None
    contact: str | None  # the contact id, or its tombstone id once erased
    agent_id: str | None
    key_id: str | None
    address: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    items: list[AuditRead]
    next_after_id: int | None  # pass as after_id for the next page


@router.get("/audit", response_model=AuditPage, summary="The audit trail (filtered, paged)")
async def read_audit_trail(
    ctx: ContextDep,
    _: SupervisorKey,
    actor: str | None = None,
    action: str | None = None,
    conversation_id: str | None = None,
    contact: Annotated[str | None, Query(description="contact id or tombstone id")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    wanted = AuditFilter(actor, action, conversation_id, contact, since, until, after_id, limit)
    records = await read_audit(ctx, wanted)
    items = [
        AuditRead(
            id=r.row.id,
            at=r.row.at,
            actor=r.row.actor,
            role=r.row.role,
            action=r.row.action,
            outcome=r.row.outcome,
            conversation_id=r.row.conversation_id,
            contact=r.contact,
            agent_id=r.row.agent_id,
            key_id=r.row.key_id,
            address=r.row.address,
            before=r.row.before,
            after=r.row.after,
        )
        for r in records
    ]
    return AuditPage(items=items, next_after_id=items[-1].id if len(items) == limit else None)


async def audit_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Closes every authenticated action, allowed or refused. An action that committed
    has its row already (it rode the commit, see ``service.audit``); this adds one for
    what committed nothing (refusals, no-ops) or ended otherwise than recorded. A
    service that recorded its own row sets ``request.state.audited``."""
    response = await call_next(request)
    if request.method in UNAUDITED_METHODS:
        return response
    runtime = request.app.state.runtime
    ctx = runtime.ctx if runtime is not None else None
    key: ApiKey | None = getattr(request.state, "api_key", None)
    if key is None or getattr(request.state, "audited", False) or ctx is None:
        return response
    pending: PendingAction | None = getattr(request.state, "audit_action", None)
    if pending is None:  # refused before it began (the key's role)
        pending = PendingAction(request_entry(request, ctx, key), None, {}, None)
    await finish_action(ctx, pending, str(response.status_code))
    return response

"""Dependency aliases: the runtime context and the caller's API key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from services.router.service.api_keys import Role, authenticate, role_allows
from services.router.service.audit import (
    AuditEntry,
    begin_action,
    client_address,
    snapshot_targets,
)
from services.router.service.context import RouterContext
from services.router.store.models import ApiKey

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="omnidesk API key")


def get_context(request: Request) -> RouterContext:
    runtime = request.app.state.runtime
    if runtime is None or runtime.ctx is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "router is starting")
    return runtime.ctx


ContextDep = Annotated[RouterContext, Depends(get_context)]


def require(role: Role) -> Callable[..., Awaitable[ApiKey]]:
    async def check(
        request: Request, ctx: ContextDep, key: str | None = Security(api_key_header)
    ) -> ApiKey:
        if not key:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "X-API-Key header required")
        found = await authenticate(ctx, key)
        if found is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key")
        if not role_allows(Role(found.role), role):
            request.state.api_key = found  # the audit trail records refusals too
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {role} role")
        request.state.api_key = found  # who acted, for the audit trail
        if request.method not in ("GET", "HEAD", "OPTIONS"):  # an action: its row rides its commit
            before = await snapshot_targets(ctx, request.path_params)
            request.state.audit_action = begin_action(
                request_entry(request, ctx, found), before=before, targets=request.path_params
            )
        return found

    return check


#: Path parameters that name what an action touched.
TARGETS = ("conversation_id", "contact_id", "agent_id", "key_id")


def request_entry(request: Request, ctx: RouterContext, key: ApiKey) -> AuditEntry:
    """Who is calling what, from where: the start of this request's audit row."""
    route = request.scope.get("route")
    template = getattr(route, "path", request.url.path)
    params = request.scope.get("path_params", {})
    peer = request.client.host if request.client else None
    return AuditEntry(
        actor=caller_name(key),
        role=key.role,
        action=f"{request.method} {template}",
        at=ctx.clock(),
        address=client_address(peer, request.headers.get("x-forwarded-for"), ctx.trusted_proxies),
        **{name: params.get(name) for name in TARGETS},
    )


AgentKey = Annotated[ApiKey, Depends(require(Role.AGENT))]
SupervisorKey = Annotated[ApiKey, Depends(require(Role.SUPERVISOR))]
AdminKey = Annotated[ApiKey, Depends(require(Role.ADMIN))]


def caller_name(key: ApiKey) -> str:
    return key.agent_id or f"{key.role}:{key.name}"

"""/queues and /policies: read the configuration; reload it from disk."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from services.router.api.deps import AdminKey, AgentKey, ContextDep, request_entry
from services.router.api.schemas import ReloadRead
from services.router.domain.policies import PolicyConfig, QueueConfig
from services.router.service.assigning import drain_queues
from services.router.service.audit import detach_action
from services.router.service.config_reload import reload_configuration

router = APIRouter(tags=["queues and policies"])


@router.get("/queues", response_model=list[QueueConfig], summary="Queues and supervisors")
async def read_queues(ctx: ContextDep, _: AgentKey) -> list[QueueConfig]:
    return list(ctx.config.current.policies.queues)


@router.get("/queues/{name}/backlog", summary="Waiting and open conversations of a queue")
async def read_queue_backlog(name: str, ctx: ContextDep, _: AgentKey) -> dict[str, Any]:
    if ctx.config.current.policies.queue(name) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"queue {name} not found")
    async with ctx.uow.reader() as uow:
        waiting = await uow.conversations.waiting(queues=[name], limit=1000)
    return {"queue": name, "waiting": [c.id for c in waiting]}


@router.get("/policies", response_model=list[PolicyConfig], summary="SLA policies in match order")
async def read_policies(ctx: ContextDep, _: AgentKey) -> list[PolicyConfig]:
    return list(ctx.config.current.policies.policies)


@router.get("/rules", summary="Classification rules")
async def read_rules(ctx: ContextDep, _: AgentKey) -> dict[str, Any]:
    return ctx.config.current.rules.model_dump(mode="json")


@router.post(
    "/config/reload",
    response_model=ReloadRead,
    summary="Reload rules and policies from disk (kept unchanged if invalid)",
    responses={
        422: {"description": "The files are invalid; the running config is kept"},
        503: {"description": "The audit row could not be written; the running config is kept"},
    },
)
async def reload_config(request: Request, ctx: ContextDep, key: AdminKey) -> ReloadRead:
    # Recorded before it applies (service.config_reload), not by a commit of the drain.
    detached = detach_action()
    entry = detached.entry if detached else request_entry(request, ctx, key)
    request.state.audited = True
    config = await reload_configuration(ctx, entry)
    await drain_queues(ctx, reason="configuration reloaded")
    return ReloadRead(
        rules=len(config.rules.rules),
        policies=len(config.policies.policies),
        queues=len(config.policies.queues),
    )

"""Agent operations: seed from YAML, create, edit, change status (re-queue on offline)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from services.router.domain.agents import AgentConfig
from services.router.domain.assignment import AgentStatus, work_to_requeue
from services.router.service.assigning import drain_queues, queue_conversation
from services.router.service.context import RouterContext
from services.router.service.events import Emitter
from services.router.store.models import Agent


class NotFound(LookupError):
    pass


def agent_from_config(config: AgentConfig, now: datetime) -> Agent:
    return Agent(
        id=config.id,
        name=config.name,
        email=config.email,
        locale=config.locale,
        queues=list(config.queues),
        skills=list(config.skills),
        capacity={k.value: v for k, v in config.capacity.items()},
        status=config.status.value,
        status_changed_at=now,
        last_assigned_at=None,
    )


async def seed_agents(ctx: RouterContext) -> int:
    """Create agents of the roster that do not exist yet (existing ones keep API edits)."""
    try:
        return await _seed_missing(ctx)
    except IntegrityError:  # another replica seeded the same agents at the same moment
        return await _seed_missing(ctx)


async def _seed_missing(ctx: RouterContext) -> int:
    now = ctx.clock()
    async with ctx.uow() as uow:
        existing = {a.id for a in await uow.agents.all()}
        missing = [a for a in ctx.config.current.roster.agents if a.id not in existing]
        for config in missing:
            uow.agents.add(agent_from_config(config, now))
        await uow.commit()
    return len(missing)


async def create_agent(ctx: RouterContext, config: AgentConfig) -> Agent:
    async with ctx.uow() as uow:
        if await uow.agents.get(config.id) is not None:
            raise ValueError(f"agent {config.id} exists")
        agent = agent_from_config(config, ctx.clock())
        uow.agents.add(agent)
        await uow.commit()
    await drain_queues(ctx, reason=f"agent {config.id} created")
    return agent


async def update_agent(
    ctx: RouterContext,
    agent_id: str,
    *,
    name: str | None = None,
    queues: list[str] | None = None,
    skills: list[str] | None = None,
    capacity: dict[str, int] | None = None,
) -> Agent:
    async with ctx.uow() as uow:
        agent = await uow.agents.get(agent_id, lock=True)
        if agent is None:
            raise NotFound(f"agent {agent_id}")
        agent.name = name if name is not None else agent.name
        agent.queues = queues if queues is not None else agent.queues
        agent.skills = skills if skills is not None else agent.skills
        agent.capacity = capacity if capacity is not None else agent.capacity
        await uow.commit()
    await drain_queues(ctx, reason=f"agent {agent_id} changed")
    return agent


async def set_agent_status(ctx: RouterContext, agent_id: str, status: AgentStatus) -> Agent:
    now = ctx.clock()
    async with ctx.uow() as uow:
        await uow.serialise_assignment()
        agent = await uow.agents.get(agent_id, lock=True)
        if agent is None:
            raise NotFound(f"agent {agent_id}")
        before = AgentStatus(agent.status)
        agent.status, agent.status_changed_at = status.value, now
        open_work = {c.id: c for c in await uow.conversations.active_for_agent(agent_id)}
        requeue = work_to_requeue(
            before, status, open_work, requeue_on_offline=ctx.options.requeue_on_offline
        )
        emitter = Emitter(uow, ctx, cause=f"agent-status:{uuid.uuid4()}", now=now)
        for conversation_id in requeue:
            await queue_conversation(
                emitter, open_work[conversation_id], reason=f"agent {agent_id} went offline"
            )
        await uow.commit()
    await drain_queues(ctx, reason=f"agent {agent_id} is {status}")
    return agent

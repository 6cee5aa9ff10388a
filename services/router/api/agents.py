"""/agents: create, list, edit skills/queues/capacity, change status."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from services.router.api.deps import AdminKey, AgentKey, ContextDep, SupervisorKey
from services.router.api.schemas import AgentRead, AgentStatusUpdate, AgentUpdate
from services.router.domain.agents import AgentConfig
from services.router.service import agents as agent_service
from services.router.service.api_keys import Role
from services.router.store.models import Agent

router = APIRouter(prefix="/agents", tags=["agents"])


def _read(agent: Agent, load: dict[str, int]) -> AgentRead:
    return AgentRead.model_validate(agent).model_copy(update={"load": load})


@router.get("", response_model=list[AgentRead], summary="List agents with their load")
async def read_agents(ctx: ContextDep, _: AgentKey) -> list[AgentRead]:
    async with ctx.uow.reader() as uow:
        agents = await uow.agents.all()
        loads = await uow.conversations.loads(a.id for a in agents)
    return [_read(a, loads.get(a.id, {})) for a in agents]


@router.get("/{agent_id}", response_model=AgentRead, summary="One agent")
async def read_agent(agent_id: str, ctx: ContextDep, _: AgentKey) -> AgentRead:
    async with ctx.uow.reader() as uow:
        agent = await uow.agents.get(agent_id)
        if agent is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"agent {agent_id} not found")
        loads = await uow.conversations.loads([agent_id])
    return _read(agent, loads.get(agent_id, {}))


@router.post(
    "", response_model=AgentRead, status_code=status.HTTP_201_CREATED, summary="Create an agent"
)
async def create_agent(body: AgentConfig, ctx: ContextDep, _: AdminKey) -> AgentRead:
    try:
        agent = await agent_service.create_agent(ctx, body)
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    return _read(agent, {})


@router.patch("/{agent_id}", response_model=AgentRead, summary="Edit queues, skills, capacity")
async def update_agent(
    agent_id: str, body: AgentUpdate, ctx: ContextDep, _: SupervisorKey
) -> AgentRead:
    agent = await agent_service.update_agent(
        ctx,
        agent_id,
        name=body.name,
        queues=body.queues,
        skills=body.skills,
        capacity={k.value: v for k, v in body.capacity.items()} if body.capacity else None,
    )
    return _read(agent, {})


@router.put("/{agent_id}/status", response_model=AgentRead, summary="Go online, away or offline")
async def update_agent_status(
    agent_id: str, body: AgentStatusUpdate, ctx: ContextDep, key: AgentKey
) -> AgentRead:
    if key.role == Role.AGENT and key.agent_id != agent_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "agents change only their own status")
    agent = await agent_service.set_agent_status(ctx, agent_id, body.status)
    return _read(agent, {})

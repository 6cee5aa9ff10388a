"""Agents as configured (seeded into the store at start; the API edits them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.common.events.interaction import Channel
from services.router.domain.assignment import AgentStatus

DEFAULT_CAPACITY = {Channel.CHAT: 3, Channel.EMAIL: 10, Channel.PHONE: 1}


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(..., pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    name: str
    email: str | None = None
    locale: str | None = Field(None, description="BCP 47, e.g. ko-KR.")
    queues: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    capacity: dict[Channel, int] = Field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    status: AgentStatus = AgentStatus.OFFLINE

    @field_validator("capacity")
    @classmethod
    def _non_negative(cls, value: dict[Channel, int]) -> dict[Channel, int]:
        if any(v < 0 for v in value.values()):
            raise ValueError("capacity cannot be negative")
        return value


class AgentRoster(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    agents: list[AgentConfig] = Field(default_factory=list)

    @field_validator("agents")
    @classmethod
    def _unique_ids(cls, agents: list[AgentConfig]) -> list[AgentConfig]:
        ids = [a.id for a in agents]
        if len(ids) != len(set(ids)):
            raise ValueError("agent ids must be unique")
        return agents

"""Request and response models of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from libs.common.events.interaction import Channel
from libs.common.events.routing import Priority
from services.router.domain.assignment import AgentStatus


class AgentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    email: str | None
    locale: str | None
    queues: list[str]
    skills: list[str]
    capacity: dict[str, int]
    status: AgentStatus
    status_changed_at: datetime
    last_assigned_at: datetime | None
    load: dict[str, int] = Field(
        default_factory=dict, description="Open conversations per channel."
    )


class AgentUpdate(BaseModel):
    name: str | None = None
    queues: list[str] | None = None
    skills: list[str] | None = None
    capacity: dict[Channel, int] | None = None


class AgentStatusUpdate(BaseModel):
    status: AgentStatus


class ConversationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    reference: str
    contact_id: str
    channel: Channel
    provider: str
    integration: str
    status: str
    queue: str
    priority: Priority
    language: str | None
    subject: str | None
    tags: list[str]
    assignee_id: str | None
    queued_at: datetime | None
    opened_at: datetime
    last_activity_at: datetime
    resolved_at: datetime | None
    first_response_at: datetime | None
    first_response_due_at: datetime | None
    policy: str | None
    breached: bool
    escalation_level: int


class ConversationPage(BaseModel):
    items: list[ConversationRead]
    total: int
    offset: int
    limit: int


class TimelineEntryRead(BaseModel):
    at: datetime
    kind: str
    type: str
    summary: str
    detail: dict[str, Any]


class ConversationDetail(ConversationRead):
    timeline: list[TimelineEntryRead]


class TransferRequest(BaseModel):
    to_agent: str | None = Field(None, description="Agent id; must be online with capacity.")
    to_queue: str | None = Field(None, description="Queue name; assigned or queued there.")
    force: bool = Field(False, description="Supervisor override of the capacity check.")


class ReplyRequest(BaseModel):
    text: str = Field(..., min_length=1, max_length=32_000)
    agent_id: str | None = Field(None, description="Defaults to the API key's agent.")


class ReplyAccepted(BaseModel):
    """202: the reply is queued for the notifier; its fate comes later (GET …/replies)."""

    reply_id: str
    conversation_id: str
    state: str = Field(..., description="Always `queued` here: nothing was delivered yet.")
    created_at: datetime


class ReplyRead(BaseModel):
    """A reply and every state it reached, with the time each was first reported."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    conversation_id: str
    agent_id: str | None
    purpose: str
    channel: str
    provider: str | None
    text: str
    state: str = Field(..., description="queued, retrying, accepted, sent, delivered, read, failed")
    provider_message_id: str | None
    error_code: str | None
    error_detail: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    accepted_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None


class ReplyRefusedRead(BaseModel):
    """409 (the channel cannot be answered) or 422 (over the provider's text limit)."""

    code: str
    detail: str
    limit: int | None = None


class CsatRequest(BaseModel):
    token: str = Field(..., min_length=10)
    rating: int = Field(..., ge=1, le=5)
    comment: str | None = Field(None, max_length=2000)


class CsatRead(BaseModel):
    conversation_id: str
    rating: int


class MetricsRowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    group: str
    opened: int
    resolved: int
    first_response_minutes_avg: float | None
    first_response_minutes_p50: float | None
    resolution_minutes_avg: float | None
    sla_attainment: float | None
    backlog: int
    waiting: int
    csat_average: float | None
    csat_responses: int


class MetricsRead(BaseModel):
    since: datetime
    until: datetime
    group_by: str
    rows: list[MetricsRowRead]


class ReloadRead(BaseModel):
    rules: int
    policies: int
    queues: int

"""Routing events: body of ``support.routing.v1``, written only by the router.

Named in the past tense; each carries enough of the conversation for the
notifier to act without asking the router (architecture §1, STYLE §2).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from libs.common.events.base import EventModel, UtcDatetime, ValueEnum, ValueModel
from libs.common.events.interaction import Channel, CustomerIdentity, Flags, ReplyPath


class Priority(ValueEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class SlaMetric(ValueEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class AgentRef(ValueModel):
    agent_id: str
    name: str | None = None
    email: str | None = None
    locale: str | None = None


class ConversationSnapshot(ValueModel):
    """The conversation as it stands after the change the event reports."""

    conversation_id: str
    reference: str = Field(..., description="Human reference and subject token, e.g. C-1234.")
    channel: Channel
    status: str = Field(..., description="open, pending, waiting_on_customer, resolved …")
    queue: str
    priority: Priority = Priority.NORMAL
    language: str | None = None
    subject: str | None = None
    tags: list[str] = Field(default_factory=list)
    contact_id: str
    customer: CustomerIdentity
    customer_flags: Flags = Field(default_factory=Flags)
    assignee: AgentRef | None = None
    supervisor: AgentRef | None = None
    last_message_id: str | None = Field(None, description="For In-Reply-To on email replies.")
    references: list[str] = Field(default_factory=list)
    first_response_due_at: UtcDatetime | None = None
    reply_path: ReplyPath | None = Field(
        None, description="How to answer on the customer's chat channel (latest inbound)."
    )
    customer_last_inbound_at: UtcDatetime | None = Field(
        None, description="The customer's latest message (provider windows, e.g. WhatsApp 24 h)."
    )


class RoutingEvent(EventModel):
    conversation: ConversationSnapshot
    occurred_at: UtcDatetime
    cause_event_id: str | None = Field(None, description="Event id that caused this decision.")
    reason: str | None = None


class InteractionRouted(RoutingEvent):
    """Every interaction gets exactly one of these: which conversation it joined."""

    ce_type: ClassVar[str] = "support.interaction.routed"
    interaction_id: str
    opened_conversation: bool = False
    ignored_reason: str | None = Field(None, description="E.g. duplicate or auto-reply.")


class ResponsePromise(ValueModel):
    """What we promise the customer, as data: templates phrase it per language."""

    target_minutes: int = Field(..., description="First-response target in business minutes.")
    due_at: UtcDatetime = Field(..., description="When the first answer is due at the latest.")
    open_now: bool = Field(..., description="The desk is within business hours right now.")
    calendar: str = Field(..., description="Business-hours calendar name.")
    timezone: str = Field(..., description="IANA zone of the calendar, e.g. Asia/Seoul.")
    always_open: bool = Field(False, description="A 24/7 calendar.")


class ConversationOpened(RoutingEvent):
    ce_type: ClassVar[str] = "support.conversation.opened"
    first_response_target_minutes: int | None = None
    first_response_due_at: UtcDatetime | None = None
    business_hours_note: str | None = Field(
        None, description="Operator-facing summary, e.g. 'email-30-minutes: Mon-Fri 09:00-18:00'."
    )
    promise: ResponsePromise | None = Field(
        None, description="The first-response promise (None: automated, no clock)."
    )


class ConversationQueued(RoutingEvent):
    ce_type: ClassVar[str] = "support.conversation.queued"
    queue: str
    position: int | None = None


class ConversationAssigned(RoutingEvent):
    ce_type: ClassVar[str] = "support.conversation.assigned"
    agent: AgentRef
    previous_agent: AgentRef | None = None
    sticky: bool = False


class ConversationTransferred(RoutingEvent):
    ce_type: ClassVar[str] = "support.conversation.transferred"
    from_agent: AgentRef | None = None
    to_agent: AgentRef | None = None
    from_queue: str
    to_queue: str
    by: str | None = Field(None, description="Who asked for the transfer.")


class ConversationEscalated(RoutingEvent):
    ce_type: ClassVar[str] = "support.conversation.escalated"
    step: int = Field(..., ge=0)
    metric: SlaMetric
    from_queue: str
    to_queue: str
    from_priority: Priority
    to_priority: Priority
    supervisor: AgentRef | None = None


class ConversationResolved(RoutingEvent):
    ce_type: ClassVar[str] = "support.conversation.resolved"
    resolved_by: str | None = None
    csat_token: str | None = Field(None, description="Signed token for the rating link.")


class ConversationReopened(RoutingEvent):
    ce_type: ClassVar[str] = "support.conversation.reopened"


class SlaWarning(RoutingEvent):
    ce_type: ClassVar[str] = "support.sla.warning"
    metric: SlaMetric
    due_at: UtcDatetime
    target_minutes: int


class SlaBreached(RoutingEvent):
    ce_type: ClassVar[str] = "support.sla.breached"
    metric: SlaMetric
    due_at: UtcDatetime
    target_minutes: int


class CallbackRequested(RoutingEvent):
    ce_type: ClassVar[str] = "support.callback.requested"
    phone: str | None = None
    missed_at: UtcDatetime


class AgentReplyRequested(RoutingEvent):
    """An agent answered in omnidesk; the notifier delivers it on the channel.

    The reply path and the customer's last inbound time travel in the snapshot.
    """

    ce_type: ClassVar[str] = "support.reply.requested"
    reply_id: str
    agent: AgentRef
    text: str
    in_reply_to: str | None = None
    references: list[str] = Field(default_factory=list)
    purpose: str = Field("agent_reply", description="agent_reply (a person wrote it).")


class ReplyFailed(RoutingEvent):
    """A reply could not be delivered for good: its agent must hear about it."""

    ce_type: ClassVar[str] = "support.reply.failed"
    reply_id: str
    agent: AgentRef | None = None
    text: str = Field("", description="The reply's text (preview).")
    error_code: str | None = None
    error_detail: str | None = None
    failed_at: UtcDatetime


ROUTING_EVENT_TYPES: tuple[type[RoutingEvent], ...] = (
    InteractionRouted,
    ConversationOpened,
    ConversationQueued,
    ConversationAssigned,
    ConversationTransferred,
    ConversationEscalated,
    ConversationResolved,
    ConversationReopened,
    SlaWarning,
    SlaBreached,
    CallbackRequested,
    AgentReplyRequested,
    ReplyFailed,
)

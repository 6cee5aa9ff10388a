"""The assistant's events (architecture §1, issue #13).

``AssistantTurnRequested`` travels on ``support.routing.v1``: the router hands
one customer turn (or a quiet-time check) of a conversation it marked
``with_assistant`` to the assistant, with what it recorded of the assistant's
earlier turns — so the assistant keeps no conversation state of its own and a
redelivered turn yields the same decision and the same event ids.

The assistant answers on ``support.assistant.v1`` (key: conversation id):
``AssistantAnswered`` (the notifier delivers it), ``AssistantHandedOff`` (the
router queues the conversation for a person; its clocks go on) and
``AssistantResolved`` (the router resolves the conversation as deflected).
Each carries the conversation snapshot so its consumers need not ask.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from libs.common.events.base import EventModel, UtcDatetime, ValueModel
from libs.common.events.routing import ConversationSnapshot, RoutingEvent


class AssistantState(ValueModel):
    """What the router recorded from the assistant's earlier events on this conversation."""

    status: Literal["offered", "answered", "awaiting_feedback", "resolved", "handed_off"] = (
        "offered"
    )
    answers_given: int = Field(0, ge=0)
    last_article_id: str | None = None
    last_question: str | None = Field(None, description="Customer text the last answer was for.")


class AssistantTurnRequested(RoutingEvent):
    """Router → assistant: answer this turn of a conversation it holds."""

    ce_type: ClassVar[str] = "support.assistant.turn.requested"
    turn_id: str = Field(..., description="Interaction id of the customer message, or timer id.")
    kind: Literal["customer_message", "quiet_check"] = "customer_message"
    text: str = Field("", description="The customer's new text (customer_message).")
    interaction_id: str | None = None
    customer_message_at: UtcDatetime | None = None
    state: AssistantState = Field(default_factory=AssistantState)


class AssistantReplyRequested(RoutingEvent):
    """Router → notifier: send the assistant's answer on the customer's channel.

    The router emits it after recording an ``AssistantAnswered`` in the timeline, so
    the notifier reads one topic and the snapshot carries the latest reply path.
    Its delivery is not a person's reply: no clock stops (purpose ``assistant_answer``).
    """

    ce_type: ClassVar[str] = "support.assistant.reply.requested"
    answer_event_id: str = Field(..., description="ce_id of the AssistantAnswered.")
    article_id: str
    text: str
    language: str = Field(..., description="ko or en: the language of the answer.")
    quick_replies: list[str] = Field(
        default_factory=list, description="Labels; sent as buttons where the provider has them."
    )


class AssistantEvent(EventModel):
    conversation: ConversationSnapshot
    occurred_at: UtcDatetime
    cause_event_id: str = Field(..., description="ce_id of the AssistantTurnRequested.")
    turn_id: str
    language: str = Field(..., description="ko, en, or other.")


class AssistantAnswered(AssistantEvent):
    """An article answer to send on the customer's channel, asking whether it helped."""

    ce_type: ClassVar[str] = "support.assistant.answered"
    article_id: str
    article_title: str
    text: str
    quick_replies: list[str] = Field(
        default_factory=list, description="Where the provider has them."
    )
    confidence: float = Field(..., ge=0, le=1)
    answer_number: int = Field(..., ge=1)
    handoff_follows: bool = Field(False, description="An AssistantHandedOff follows this answer.")
    quiet_check_at: UtcDatetime | None = Field(
        None, description="When the router asks for a quiet_check if the customer stays silent."
    )


class AssistantHandedOff(AssistantEvent):
    """A person takes over now: the reason and the transcript for the agent."""

    ce_type: ClassVar[str] = "support.assistant.handed_off"
    reason: str
    confidence: float = Field(0.0, ge=0, le=1)
    article_id: str | None = Field(None, description="Article sent with the handoff, if any.")
    candidates: list[str] = Field(default_factory=list, description="Closest articles, best first.")
    customer_text: str = Field("", description="The customer's last text (capped).")
    answers_given: int = 0
    last_article_id: str | None = None


class AssistantResolved(AssistantEvent):
    """The customer confirmed, or stayed quiet after an answer: deflected."""

    ce_type: ClassVar[str] = "support.assistant.resolved"
    resolution: Literal["customer_confirmed", "quiet_timeout"]
    article_id: str | None = None


ASSISTANT_EVENT_TYPES: tuple[type[EventModel], ...] = (
    AssistantTurnRequested,
    AssistantReplyRequested,
    AssistantAnswered,
    AssistantHandedOff,
    AssistantResolved,
)

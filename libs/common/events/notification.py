"""Notification outcomes: body of ``support.notifications.v1``."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from libs.common.events.base import EventModel, UtcDatetime, ValueModel


class NotificationChannel(StrEnum):
    SMTP = "smtp"
    WEBHOOK = "webhook"
    CHAT = "chat"  # the customer's chat provider (Telegram, WhatsApp, LINE, …)


class NotificationStatus(StrEnum):
    SENT = "sent"
    SUPPRESSED = "suppressed"
    FAILED = "failed"
    RETRYING = "retrying"  # transient trouble (429, 5xx, outage): still trying
    ACCEPTED = "accepted"  # a chat provider took the message (its id in provider_message_id)


class SingleUsePart(ValueModel):
    """The single-use part of a reply path a delivered message used up.

    Named by its expiry (each customer message brings its own), never by the
    secret itself: the router spends it only if its stored path still holds it.
    """

    part: Literal["callback", "reply_token"] = Field(
        ..., description="callback: Kakao skill callbackUrl; reply_token: LINE replyToken."
    )
    expires_at: UtcDatetime


class NotificationOutcome(EventModel):
    ce_type: ClassVar[str] = "support.notification.recorded"

    routing_event_id: str
    routing_event_type: str
    conversation_id: str
    channel: NotificationChannel
    recipient: str = Field(..., description="Email address or webhook name (never a secret URL).")
    template: str
    locale: str | None = None
    status: NotificationStatus
    attempts: int = Field(1, ge=0)
    message_id: str | None = Field(None, description="Outgoing Message-ID or delivery id.")
    reason: str | None = Field(None, description="Why suppressed or failed.")
    occurred_at: UtcDatetime
    reply_id: str | None = Field(None, description="The router's reply this notice delivers.")
    purpose: str | None = Field(
        None, description="agent_reply, acknowledgement, csat_survey (chat and mail to customers)."
    )
    provider: str | None = Field(None, description="Chat provider (telegram, whatsapp, …).")
    provider_message_id: str | None = Field(
        None, description="The provider's id of our message (delivery receipts carry it)."
    )
    accepted_at: UtcDatetime | None = Field(
        None, description="When the provider or the SMTP relay accepted the message."
    )
    error_code: str | None = Field(None, description="Our vocabulary, e.g. window_closed.")
    single_use: SingleUsePart | None = Field(
        None, description="Set on a delivered chat message that used a single-use reply path."
    )


#: CloudEvents extension (``ce_aboutreply`` header) on an outcome record: ``false`` when
#: the outcome delivers no reply of the router's (no ``reply_id``) and spent no single-use
#: reply path, i.e. when the router's reply-outcome consumer has nothing to apply. Most
#: outcomes are such (acknowledgements, staff mails): that consumer skips decoding them
#: (~6 µs each, ~1.1 outcomes per interaction in a backlog). Absent: decode as usual.
ABOUT_REPLY_EXTENSION = "aboutreply"
NOT_ABOUT_A_REPLY = "false"


def about_a_reply(outcome: NotificationOutcome) -> bool:
    """The outcome may change a reply's state or spend a reply path (router: ``apply_outcomes``)."""
    return outcome.reply_id is not None or outcome.single_use is not None

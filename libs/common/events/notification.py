"""Notification outcomes: body of ``support.notifications.v1``."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from libs.common.events.base import EventModel, UtcDatetime


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

"""Notification outcomes: body of ``support.notifications.v1``."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from libs.common.events.base import EventModel, UtcDatetime


class NotificationChannel(StrEnum):
    SMTP = "smtp"
    WEBHOOK = "webhook"


class NotificationStatus(StrEnum):
    SENT = "sent"
    SUPPRESSED = "suppressed"
    FAILED = "failed"


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

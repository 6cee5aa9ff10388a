"""Plain-data builders for router unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from libs.common.events.interaction import (
    CallDetails,
    Channel,
    CustomerIdentity,
    Flags,
    Interaction,
    InteractionKind,
    MessageBody,
    ThreadHints,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 10:00 KST


def interaction(
    channel: Channel = Channel.EMAIL,
    *,
    email: str | None = "kim@example.com",
    phone: str | None = None,
    handle: str | None = None,
    text: str = "hello",
    subject: str | None = "Help",
    at: datetime = T0,
    thread: ThreadHints | None = None,
    flags: Flags | None = None,
    kind: InteractionKind = InteractionKind.MESSAGE,
    call: CallDetails | None = None,
    **extra: Any,
) -> Interaction:
    return Interaction(
        channel=channel,
        provider=extra.pop(
            "provider", {"email": "imap", "chat": "whatsapp", "phone": "twilio"}[channel]
        ),
        integration=extra.pop("integration", "main"),
        occurred_at=at,
        received_at=at,
        customer=CustomerIdentity(email=email, phone=phone, handle=handle),
        subject=subject,
        body=extra.pop("body", None) or MessageBody(text=text),
        thread=thread or ThreadHints(),
        flags=flags or Flags(),
        kind=kind,
        call=call,
        **extra,
    )

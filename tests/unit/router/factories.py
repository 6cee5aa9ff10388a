"""Plain-data builders for router unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
from libs.common.events.routing import (
    AgentRef,
    ConversationAssigned,
    ConversationOpened,
    ConversationQueued,
    InteractionRouted,
    ResponsePromise,
    RoutingEvent,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 10:00 KST
#: a 30-minute first-response promise made in business hours
PROMISE = ResponsePromise(
    target_minutes=30,
    due_at=T0 + timedelta(minutes=30),
    open_now=True,
    calendar="kst-business",
    timezone="Asia/Seoul",
)


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


def routed_samples(
    agent: AgentRef, promise: ResponsePromise
) -> list[tuple[type[RoutingEvent], dict[str, Any]]]:
    """One of each shape a routed poll's events take (their fields after the shared
    ones), for the tests that hold a fast path to the validated model."""
    return [
        (InteractionRouted, {"interaction_id": "event-1", "opened_conversation": True}),
        (
            InteractionRouted,
            {"interaction_id": "event-1", "opened_conversation": False, "ignored_reason": "dup"},
        ),
        (
            ConversationOpened,
            {
                "first_response_target_minutes": 30,
                "first_response_due_at": T0 + timedelta(minutes=30),
                "business_hours_note": "email: Mon-Fri 09:00-18:00 Asia/Seoul",
                "promise": promise,
            },
        ),
        (ConversationOpened, {"first_response_target_minutes": None, "promise": None}),
        (ConversationQueued, {"queue": "general"}),
        (ConversationQueued, {"queue": "general", "position": 3}),
        (ConversationAssigned, {"agent": agent, "previous_agent": None, "sticky": False}),
        (ConversationAssigned, {"agent": agent, "previous_agent": agent, "sticky": True}),
    ]

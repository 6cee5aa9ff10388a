"""Interactions the router's integration tests route: one builder instead of one per test."""

from __future__ import annotations

from datetime import datetime

from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)


def telegram_chat(
    at: datetime, customer: str, thread: str, text: str = "Where is my deposit?"
) -> Interaction:
    """A Telegram chat message (integration ``tg``) from ``telegram:<customer>`` on its
    ``thread``, received ``at``."""
    return Interaction(
        channel=Channel.CHAT,
        provider="telegram",
        integration="tg",
        occurred_at=at,
        received_at=at,
        customer=CustomerIdentity(handle=f"telegram:{customer}"),
        body=MessageBody(text=text),
        thread=ThreadHints(provider_thread_id=thread),
    )

"""The outbound contract every provider package implements.

The notifier turns a routing event into an :class:`OutboundMessage`; a
provider's :class:`ProviderSender` turns that into the provider's documented
HTTP request and reports a :class:`SendOutcome`. Building a request is pure
(``build_request``: message in, :class:`HttpRequest` out) so it is tested
without I/O; the sender only performs it with httpx and classifies the answer.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import Field

from libs.common.events.base import UtcDatetime, ValueModel
from libs.common.events.interaction import ReplyPath


class OutboundPurpose(StrEnum):
    AGENT_REPLY = "agent_reply"  # a human's words: the only kind that stops response clocks
    ACKNOWLEDGEMENT = "acknowledgement"
    CSAT_SURVEY = "csat_survey"
    ASSISTANT_ANSWER = "assistant_answer"


class QuickReply(ValueModel):
    """A button / quick reply where the provider has them; ``payload`` comes back inbound."""

    label: str = Field(..., max_length=20)
    payload: str = Field(..., max_length=256)


class OutboundMessage(ValueModel):
    idempotency_key: str = Field(
        ...,
        description="Stable per message (reply id / notice key); sent as the provider's "
        "idempotency key where its API has one.",
    )
    purpose: OutboundPurpose
    text: str
    quick_replies: list[QuickReply] = Field(default_factory=list)
    path: ReplyPath
    locale: str | None = None
    customer_last_inbound_at: UtcDatetime | None = Field(
        None, description="For windows such as WhatsApp's 24-hour customer-service window."
    )


class SendVerdict(StrEnum):
    ACCEPTED = "accepted"  # the provider took it (2xx with its message id)
    RETRY = "retry"  # transient: 429 / 5xx / network — try again (after retry_after_s)
    PERMANENT = "permanent"  # blocked user, invalid recipient, window closed, bad token …


class SendOutcome(ValueModel):
    verdict: SendVerdict
    provider_message_id: str | None = None
    accepted_at: UtcDatetime | None = None
    retry_after_s: float | None = Field(None, ge=0)
    error_code: str | None = Field(None, description="Our vocabulary, e.g. window_closed.")
    error_detail: str | None = Field(None, description="The provider's own words (no secrets).")
    http_status: int | None = None


class HttpRequest(ValueModel):
    """A provider request as plain data (what ``build_request`` returns).

    Out of its repr: the URL and headers carry credentials (Telegram's bot
    token is in the path) and the bodies carry customers' words.
    """

    method: str = "POST"
    url: str = Field(..., repr=False)
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    json_body: Any | None = Field(None, repr=False)
    form_body: dict[str, str] | None = Field(None, repr=False)


class Unsendable(ValueError):
    """The message cannot go out on this path at all (checked before any I/O).

    ``code`` is our vocabulary (``no_reply_path``, ``window_closed``,
    ``callback_expired``, ``too_long`` …); the API shows it to the agent.
    """

    def __init__(self, code: str, detail: str, *, provider: str, limit: int | None = None):
        super().__init__(f"{provider}: {detail}")
        self.code = code
        self.detail = detail
        self.provider = provider
        self.limit = limit


class ProviderSender(Protocol):
    """One configured integration's outbound side."""

    provider: str
    max_text_chars: int

    def check(self, message: OutboundMessage, *, now: datetime) -> None:
        """Raise :class:`Unsendable` when this message can never be sent as it is."""

    async def send(self, message: OutboundMessage) -> SendOutcome:
        """Perform the request once; never raises for provider answers (see SendVerdict)."""

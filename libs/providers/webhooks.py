"""The inbound side of the provider table, without a web framework.

chat_ingest turns an HTTP request into a :class:`WebhookInput` and runs one
generic handler over the provider's :class:`InboundSpec`:

    verify(integration, webhook, options)        → raises BadSignature
    parse(webhook, context, options) → Parsed    → events to publish (or a handshake)
    answer(parsed, ack, integration, options) → Answer → the body the provider expects

Only provider-specific handshakes differ (Slack ``url_verification`` is a
``Parsed.handshake``; WhatsApp's GET ``hub.challenge`` is a separate route
with :func:`libs.providers.whatsapp.inbound.subscription_challenge`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from libs.common.webhooks.parsing import validate_json_payload
from libs.providers.inbound import ChatEvent, IngestContext
from libs.providers.integrations import Integration, Provider

M = TypeVar("M", bound=BaseModel)

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class WebhookInput:
    """One received webhook as plain data."""

    body: bytes
    headers: Mapping[str, str]  # case-insensitive (Starlette Headers)
    query: Mapping[str, str]
    url: str  # the public URL (Twilio signs it): "" unless the spec says needs_public_url
    received_at: datetime


@dataclass(frozen=True)
class InboundOptions:
    """Service settings some providers need."""

    slack_tolerance_s: int = 300
    kakao_ack_text_ko: str = "메시지를 받았습니다. 상담원이 곧 답변드리겠습니다."
    kakao_ack_text_en: str = "Thanks, we got your message. An agent will reply shortly."
    kakao_dedupe_window_s: int = 10


@dataclass(frozen=True)
class Answer:
    """What the provider gets back: a pydantic body (JSON) or raw text."""

    body: BaseModel | str
    media_type: str = JSON
    status_code: int = 200
    exclude_none: bool = False


@dataclass
class Parsed:
    events: list[ChatEvent] = field(default_factory=list)
    ignored: int = 0
    handshake: Answer | None = None  # answered at once, nothing published
    payload: Any = None  # the validated payload, for ``answer``


class WebhookAck(BaseModel):
    """Answer to a webhook whose events are all safely on Kafka."""

    accepted: int = Field(..., description="Events published (Kafka acknowledged) now.")
    duplicates: int = Field(0, description="Events acknowledged before; not published again.")
    ignored: int = Field(0, description="Provider events that are not customer messages.")
    event_ids: list[str] = Field(default_factory=list, description="Ids of all our events.")


Verifier = Callable[[Integration, WebhookInput, InboundOptions], None]
Parser = Callable[[WebhookInput, IngestContext, InboundOptions], Parsed]
Answerer = Callable[[Parsed, WebhookAck, Integration, InboundOptions], Answer]


def acknowledge(
    parsed: Parsed, ack: WebhookAck, integration: Integration, options: InboundOptions
) -> Answer:
    """The default answer: the ack counts as JSON."""
    return Answer(ack)


def json_payload(model: type[M], webhook: WebhookInput) -> M:
    """The body as a JSON object validated by ``model`` (400 naming the fields if not)."""
    return validate_json_payload(model, webhook.body)


def single(event: ChatEvent | None, **extra: Any) -> Parsed:
    """One event, or one ignored provider event."""
    return Parsed([event] if event else [], ignored=0 if event else 1, **extra)


@dataclass(frozen=True)
class InboundSpec:
    provider: Provider
    summary: str
    verify: Verifier
    parse: Parser
    payload_model: type[BaseModel]  # documents the request body
    answer: Answerer = acknowledge
    response_model: type[BaseModel] | None = WebhookAck
    content_type: str = JSON
    success_status: int = 200
    #: Query parameters the route accepts (name → description), for the docs.
    query: Mapping[str, str] = field(default_factory=dict)
    needs_public_url: bool = False

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


_new_object = object.__new__


def webhook_input(
    body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    url: str,
    received_at: datetime,
) -> WebhookInput:
    """``WebhookInput(body, headers, query, url, received_at)``: the same frozen object,
    its ``__dict__`` filled in field order without the dataclass ``__init__``'s
    ``object.__setattr__`` per field: 11.2 → 3.5 K instructions (callgrind), one a
    webhook request (tests/unit/providers/test_webhook_records.py)."""
    webhook = _new_object(WebhookInput)
    values = webhook.__dict__
    values["body"] = body
    values["headers"] = headers
    values["query"] = query
    values["url"] = url
    values["received_at"] = received_at
    return webhook


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


def webhook_answer(
    body: BaseModel | str, media_type: str, status_code: int, exclude_none: bool
) -> Answer:
    """``Answer(body, media_type, status_code, exclude_none)`` with every field given, as
    :func:`webhook_input` builds its object: ~3 K instructions, not ~9 K; one an
    accepted web-chat message (tests/unit/providers/test_webhook_records.py)."""
    answer = _new_object(Answer)
    values = answer.__dict__
    values["body"] = body
    values["media_type"] = media_type
    values["status_code"] = status_code
    values["exclude_none"] = exclude_none
    return answer


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

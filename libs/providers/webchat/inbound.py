"""First-party web chat: our own JSON API for a site widget or an in-house chat.

Authenticated per integration by ``X-Omnidesk-Signature: sha256=<hex HMAC of
the body>`` (``secret``) or ``Authorization: Bearer <api_key>``; the client's
``message_id`` makes retries idempotent.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.common.constructed import constructed
from libs.common.events import Attachment, Direction
from libs.common.webhooks import (
    verify_hmac_sha256,
    verify_shared_token,
)
from libs.providers.inbound import (
    ChatEvent,
    IngestContext,
    authentic,
    chat_interaction,
    event_id,
    handle,
    reply_path,
    sane_time,
    to_e164,
)
from libs.providers.integrations import Integration, Provider
from libs.providers.prevalidated import customer_identity, visitor_chat_interaction
from libs.providers.webchat.visitor import issue_visitor_token
from libs.providers.webhooks import (
    JSON,
    Answer,
    InboundOptions,
    InboundSpec,
    Parsed,
    WebhookAck,
    WebhookInput,
    json_payload,
    webhook_answer,
)

PROVIDER = Provider.WEBCHAT.value
SIGNATURE_HEADER = "x-omnidesk-signature"
#: Longest reply the widget shows (our limit: web chat has no provider API).
MAX_REPLY_CHARS = 10_000


class WebchatVisitor(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(..., min_length=1, max_length=200, description="Your stable visitor id.")
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(None, max_length=40)
    locale: str | None = Field(None, max_length=35, description="BCP 47, e.g. ko-KR.")


class WebchatAttachment(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str = Field(..., min_length=1, max_length=2000)
    name: str | None = Field(None, max_length=300)
    content_type: str = Field("application/octet-stream", max_length=200)
    size: int | None = Field(None, ge=0)


class WebchatMessage(BaseModel):
    """One chat message from a visitor (or, from an in-house chat, an agent or bot)."""

    model_config = ConfigDict(extra="ignore")

    message_id: str = Field(..., min_length=1, max_length=200, description="Idempotency key.")
    conversation_id: str | None = Field(None, max_length=200)
    visitor: WebchatVisitor
    author: Literal["visitor", "agent", "bot"] = Field(
        "visitor", description="agent/bot messages are outbound."
    )
    text: str = Field("", max_length=100_000)
    attachments: list[WebchatAttachment] = Field(default_factory=list, max_length=20)
    sent_at: AwareDatetime | None = None


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def normalise(message: WebchatMessage, context: IngestContext) -> ChatEvent:
    visitor = message.visitor
    if message.author == "visitor" and not message.attachments and visitor.phone is None:
        # the usual message, written out in one function (the same interaction)
        written = visitor_chat_interaction(
            provider=PROVIDER,
            integration=context.integration_id,
            occurred=sane_time(message.sent_at, context.received_at),
            received=context.received_at,
            visitor_id=visitor.id,
            email=visitor.email,
            display_name=visitor.name,
            locale=visitor.locale,
            conversation_id=message.conversation_id,
            text=message.text,
            routing_hints=context.routing,
            provider_message_id=message.message_id,
        )
        if written is not None:
            return ChatEvent(event_id(PROVIDER, context, message.message_id), written)
    customer = customer_identity(
        handle=handle(PROVIDER, visitor.id),
        email=visitor.email,
        phone=to_e164(visitor.phone, context.region),
        display_name=visitor.name,
        locale=visitor.locale,
    )
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=customer,
        customer_key=customer.handle or "",
        occurred_at=message.sent_at,
        provider_message_id=message.message_id,
        text=message.text,
        direction=Direction.INBOUND if message.author == "visitor" else Direction.OUTBOUND,
        thread_id=message.conversation_id or visitor.id,
        attachments=[
            Attachment(name=a.name, content_type=a.content_type, size=a.size, url=a.url)
            for a in message.attachments
        ],
        reply_path=reply_path(context, PROVIDER, visitor.id, thread=message.conversation_id)
        if message.author == "visitor"
        else None,
    )
    return ChatEvent(event_id(PROVIDER, context, message.message_id), interaction)


class WebchatAck(WebhookAck):
    visitor_token: str = Field(
        ...,
        description="Lets the widget read this visitor's replies from the notifier's outbox "
        "(libs/providers/webchat/visitor.py).",
    )


def verify(integration: Integration, webhook: WebhookInput, options: InboundOptions) -> None:
    headers, body = webhook.headers, webhook.body
    signed = integration.secret is not None and verify_hmac_sha256(
        integration.secret_value(), body, headers.get(SIGNATURE_HEADER), prefix="sha256="
    )
    # the bearer key only when the signature did not pass: a signed request (the widget
    # backend's) has no Authorization header, and looking one up that is absent goes
    # through Starlette's KeyError: 620.3 → 611.8 K instructions per request (app, callgrind)
    keyed = (
        not signed
        and integration.api_key is not None
        and verify_shared_token(
            integration.api_key.get_secret_value(), _bearer(headers.get("authorization"))
        )
    )
    authentic(
        signed or keyed,
        integration,
        "X-Omnidesk-Signature or Authorization bearer key missing or wrong",
    )


def parse(webhook: WebhookInput, context: IngestContext, options: InboundOptions) -> Parsed:
    message = json_payload(WebchatMessage, webhook)
    return Parsed([normalise(message, context)], payload=(message, context.received_at))


def answer(
    parsed: Parsed, ack: WebhookAck, integration: Integration, options: InboundOptions
) -> Answer:
    message, received_at = parsed.payload
    token = issue_visitor_token(integration, message.visitor.id, now=received_at)
    if type(ack) is WebhookAck and type(token) is str:
        # the ack's values (already a WebhookAck's) and the token as they are: the
        # instance validation gives, without validating them again (test_acks.py)
        values = {**ack.__dict__, "visitor_token": token}
        return webhook_answer(constructed(WebchatAck, values), JSON, 202, False)
    # the ack's field values as they are (its __dict__), not a model_dump copy: 3.8 → 2.1 µs
    return Answer(WebchatAck(**ack.__dict__, visitor_token=token), status_code=202)


INBOUND = InboundSpec(
    provider=Provider.WEBCHAT,
    summary="Web chat message (site widget or in-house chat)",
    verify=verify,
    parse=parse,
    payload_model=WebchatMessage,
    answer=answer,
    response_model=WebchatAck,
    success_status=202,
)

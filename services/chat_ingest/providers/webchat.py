"""First-party web chat: our own JSON API for a site widget or an in-house chat.

Authenticated per integration by ``X-Omnidesk-Signature: sha256=<hex HMAC of
the body>`` (``secret``) or ``Authorization: Bearer <api_key>``; the client's
``message_id`` makes retries idempotent.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.common.events import Attachment, CustomerIdentity, Direction
from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    BadSignature,
    error_responses,
    parse_json_object,
    request_body,
    validate_payload,
    verify_hmac_sha256,
    verify_shared_token,
)
from services.chat_ingest.ingest import WebhookAck, json_response
from services.chat_ingest.integrations import Integration, Provider
from services.chat_ingest.normalise import (
    ChatEvent,
    IngestContext,
    chat_interaction,
    event_id,
    handle,
    to_e164,
)
from services.chat_ingest.runtime import RuntimeDep, normalised

PROVIDER = Provider.WEBCHAT.value
SIGNATURE_HEADER = "x-omnidesk-signature"


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


def verify(integration: Integration, body: bytes, request: Request) -> None:
    if integration.secret is not None and verify_hmac_sha256(
        integration.secret_value(), body, request.headers.get(SIGNATURE_HEADER), prefix="sha256="
    ):
        return
    if integration.api_key is not None and verify_shared_token(
        integration.api_key.get_secret_value(), _bearer(request.headers.get("authorization"))
    ):
        return
    raise BadSignature(
        "X-Omnidesk-Signature or Authorization bearer key missing or wrong",
        provider=PROVIDER,
        integration=integration.id,
    )


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def normalise(message: WebchatMessage, context: IngestContext) -> ChatEvent:
    visitor = message.visitor
    customer = CustomerIdentity(
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
    )
    return ChatEvent(event_id(PROVIDER, context, message.message_id), interaction)


router = APIRouter(tags=["webchat"])


@router.post(
    "/webhooks/webchat/{integration_id}/messages",
    summary="Web chat message (site widget or in-house chat)",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAck,
    responses=error_responses(*WEBHOOK_ERROR_CODES),
    openapi_extra=request_body({"application/json": WebchatMessage}),
)
async def create_webchat_message(
    integration_id: str, request: Request, runtime: RuntimeDep
) -> Response:
    integration = runtime.integration(request, Provider.WEBCHAT, integration_id)
    body = await runtime.body(request)
    verify(integration, body, request)
    async with runtime.keeping_unreadable(request, integration, body):
        message = validate_payload(WebchatMessage, parse_json_object(body))
        event = normalised(normalise, message, runtime.context(integration))
    ack = await runtime.require_ingest().accept(PROVIDER, [event])
    return json_response(ack, status.HTTP_202_ACCEPTED)

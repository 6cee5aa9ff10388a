"""LINE Messaging API: X-Line-Signature = base64 HMAC-SHA256 of the raw body."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from libs.common.events import Attachment, CustomerIdentity
from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    BadSignature,
    error_responses,
    parse_json_object,
    request_body,
    validate_payload,
    verify_hmac_sha256,
)
from services.chat_ingest.ingest import WebhookAck, json_response
from services.chat_ingest.integrations import Integration, Provider
from services.chat_ingest.normalise import (
    ChatEvent,
    IngestContext,
    chat_interaction,
    event_id,
    from_epoch,
    handle,
)
from services.chat_ingest.runtime import RuntimeDep, normalised

PROVIDER = Provider.LINE.value
MEDIA_TYPES = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/m4a", "file": None}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class LineSource(_Lenient):
    type: str = "user"
    userId: str | None = None
    groupId: str | None = None
    roomId: str | None = None


class LineContentProvider(_Lenient):
    type: str = "line"
    originalContentUrl: str | None = None


class LineMessage(_Lenient):
    id: str
    type: str
    text: str | None = None
    fileName: str | None = None
    fileSize: int | None = Field(None, ge=0)
    contentProvider: LineContentProvider | None = None
    title: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class LineDeliveryContext(_Lenient):
    isRedelivery: bool = False


class LineEvent(_Lenient):
    type: str
    timestamp: int | None = None
    source: LineSource | None = None
    webhookEventId: str | None = Field(None, description="ULID; the dedupe id.")
    deliveryContext: LineDeliveryContext = Field(default_factory=LineDeliveryContext)
    replyToken: str | None = None
    mode: str | None = None
    message: LineMessage | None = None


class LineWebhook(_Lenient):
    destination: str | None = None
    events: list[LineEvent] = Field(default_factory=list)


def verify(integration: Integration, body: bytes, signature: str | None) -> None:
    if not verify_hmac_sha256(integration.secret_value(), body, signature, encoding="base64"):
        raise BadSignature(
            "X-Line-Signature missing or wrong", provider=PROVIDER, integration=integration.id
        )


def message_text(message: LineMessage) -> str:
    if message.type == "location":
        coords = f"{message.latitude},{message.longitude}"
        return " ".join(p for p in (message.title, message.address, coords) if p)
    return message.text or ""


def attachments(message: LineMessage) -> list[Attachment]:
    if message.type not in MEDIA_TYPES:
        return []
    provider = message.contentProvider
    external = provider is not None and provider.type == "external"
    url = provider.originalContentUrl if external and provider else f"line-content:{message.id}"
    return [
        Attachment(
            name=message.fileName,
            content_type=MEDIA_TYPES[message.type] or "application/octet-stream",
            size=message.fileSize,
            url=url,
        )
    ]


def _event(event: LineEvent, context: IngestContext) -> ChatEvent | None:
    source = event.source
    if event.type != "message" or event.message is None or source is None or not source.userId:
        return None
    message = event.message
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=CustomerIdentity(handle=handle(PROVIDER, source.userId)),
        occurred_at=from_epoch(event.timestamp, millis=True),
        provider_message_id=message.id,
        text=message_text(message),
        thread_id=source.groupId or source.roomId or source.userId,
        attachments=attachments(message),
    )
    dedupe = event.webhookEventId or message.id
    return ChatEvent(event_id(PROVIDER, context, dedupe), interaction)


def normalise(payload: LineWebhook, context: IngestContext) -> tuple[list[ChatEvent], int]:
    """Message events from users; follows, postbacks, … are counted as ignored."""
    results = [_event(event, context) for event in payload.events]
    events = [e for e in results if e is not None]
    return events, len(results) - len(events)


router = APIRouter(tags=["line"])


@router.post(
    "/webhooks/line/{integration_id}",
    summary="LINE Messaging API webhook",
    response_model=WebhookAck,
    responses=error_responses(*WEBHOOK_ERROR_CODES),
    openapi_extra=request_body({"application/json": LineWebhook}),
)
async def receive_line(integration_id: str, request: Request, runtime: RuntimeDep) -> Response:
    integration = runtime.integration(request, Provider.LINE, integration_id)
    body = await runtime.body(request)
    verify(integration, body, request.headers.get("x-line-signature"))
    async with runtime.keeping_unreadable(request, integration, body):
        payload = validate_payload(LineWebhook, parse_json_object(body))
        events, ignored = normalised(normalise, payload, runtime.context(integration))
    ack = await runtime.require_ingest().accept(PROVIDER, events, ignored=ignored)
    return json_response(ack)

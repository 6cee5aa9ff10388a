"""WhatsApp Cloud API (Meta): X-Hub-Signature-256 over the raw body, GET handshake."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from libs.common.events import Attachment, CustomerIdentity, Direction, InteractionKind
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
    from_epoch,
    handle,
    hex_sha256_or_none,
    to_e164,
)
from services.chat_ingest.runtime import RuntimeDep, normalised

PROVIDER = Provider.WHATSAPP.value
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker", "voice")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class WaText(_Lenient):
    body: str = ""


class WaMedia(_Lenient):
    id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None


class WaButton(_Lenient):
    text: str | None = None
    payload: str | None = None


class WaReply(_Lenient):
    id: str | None = None
    title: str | None = None


class WaInteractive(_Lenient):
    type: str | None = None
    button_reply: WaReply | None = None
    list_reply: WaReply | None = None


class WaLocation(_Lenient):
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None


class WaMessage(_Lenient):
    from_: str = Field(..., alias="from", description="Sender wa_id (digits, country code first).")
    id: str = Field(..., description="wamid.…; the dedupe id.")
    timestamp: str | int | None = None
    type: str = "text"
    text: WaText | None = None
    button: WaButton | None = None
    interactive: WaInteractive | None = None
    location: WaLocation | None = None
    image: WaMedia | None = None
    audio: WaMedia | None = None
    video: WaMedia | None = None
    document: WaMedia | None = None
    sticker: WaMedia | None = None
    voice: WaMedia | None = None


class WaProfile(_Lenient):
    name: str | None = None


class WaContact(_Lenient):
    wa_id: str
    profile: WaProfile | None = None


class WaStatus(_Lenient):
    id: str
    status: str
    timestamp: str | int | None = None
    recipient_id: str | None = None


class WaMetadata(_Lenient):
    phone_number_id: str | None = None
    display_phone_number: str | None = None


class WaValue(_Lenient):
    messaging_product: str | None = None
    metadata: WaMetadata = Field(default_factory=WaMetadata)
    contacts: list[WaContact] = Field(default_factory=list)
    messages: list[WaMessage] = Field(default_factory=list)
    statuses: list[WaStatus] = Field(default_factory=list)


class WaChange(_Lenient):
    field: str | None = None
    value: WaValue = Field(default_factory=WaValue)


class WaEntry(_Lenient):
    id: str | None = None
    changes: list[WaChange] = Field(default_factory=list)


class WhatsAppWebhook(_Lenient):
    object: str = Field(..., description="whatsapp_business_account")
    entry: list[WaEntry] = Field(default_factory=list)


def verify(integration: Integration, body: bytes, signature: str | None) -> None:
    if not verify_hmac_sha256(integration.secret_value(), body, signature, prefix="sha256="):
        raise BadSignature(
            "X-Hub-Signature-256 missing or wrong",
            provider=PROVIDER,
            integration=integration.id,
        )


def message_text(message: WaMessage) -> str:
    if message.text is not None:
        return message.text.body
    if message.button is not None:
        return message.button.text or ""
    if message.interactive is not None:
        reply = message.interactive.button_reply or message.interactive.list_reply
        return (reply.title or "") if reply else ""
    if message.location is not None:
        loc = message.location
        parts = [loc.name, loc.address, f"{loc.latitude},{loc.longitude}"]
        return " ".join(p for p in parts if p)
    media = _media(message)
    return (media.caption or "") if media else ""


def _media(message: WaMessage) -> WaMedia | None:
    return next((m for m in (getattr(message, t) for t in MEDIA_TYPES) if m is not None), None)


def attachments(message: WaMessage) -> list[Attachment]:
    media = _media(message)
    if media is None or not media.id:
        return []
    return [
        Attachment(
            name=media.filename,
            content_type=media.mime_type or "application/octet-stream",
            sha256=hex_sha256_or_none(media.sha256),
            url=f"whatsapp-media:{media.id}",  # fetched through the Graph API by media id
        )
    ]


def _customer(wa_id: str, names: dict[str, str], context: IngestContext) -> CustomerIdentity:
    phone = to_e164(wa_id, context.region, international=True)
    return CustomerIdentity(
        phone=phone,
        handle=None if phone else handle(PROVIDER, wa_id),
        display_name=names.get(wa_id),
    )


def _message_event(
    message: WaMessage, value: WaValue, names: dict[str, str], context: IngestContext
) -> ChatEvent:
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=_customer(message.from_, names, context),
        occurred_at=from_epoch(message.timestamp),
        provider_message_id=message.id,
        text=message_text(message),
        thread_id=f"{value.metadata.phone_number_id}|{message.from_}",
        attachments=attachments(message),
    )
    return ChatEvent(event_id(PROVIDER, context, message.id), interaction)


def _status_event(
    status: WaStatus, value: WaValue, names: dict[str, str], context: IngestContext
) -> ChatEvent | None:
    if not status.recipient_id:
        return None
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=_customer(status.recipient_id, names, context),
        occurred_at=from_epoch(status.timestamp),
        provider_message_id=status.id,
        direction=Direction.OUTBOUND,
        kind=InteractionKind.DELIVERY_STATUS,
        thread_id=f"{value.metadata.phone_number_id}|{status.recipient_id}",
    )
    return ChatEvent(event_id(PROVIDER, context, status.id, status.status), interaction)


def normalise(payload: WhatsAppWebhook, context: IngestContext) -> tuple[list[ChatEvent], int]:
    """Events for messages and delivery statuses; also how many items were ignored."""
    events: list[ChatEvent] = []
    ignored = 0
    for change in (c for entry in payload.entry for c in entry.changes):
        value = change.value
        names = {c.wa_id: c.profile.name for c in value.contacts if c.profile and c.profile.name}
        events.extend(_message_event(m, value, names, context) for m in value.messages)
        for status in value.statuses:
            event = _status_event(status, value, names, context)
            if event is None:
                ignored += 1
            else:
                events.append(event)
        if not value.messages and not value.statuses:
            ignored += 1
    return events, ignored


router = APIRouter(tags=["whatsapp"])


@router.get(
    "/webhooks/whatsapp/{integration_id}",
    summary="WhatsApp subscription handshake (echoes hub.challenge)",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Challenge",
        },
        **error_responses(400, 401, 404),
    },
)
async def verify_whatsapp_subscription(
    integration_id: str,
    request: Request,
    runtime: RuntimeDep,
    mode: str = Query(..., alias="hub.mode"),
    verify_token: str = Query(..., alias="hub.verify_token"),
    challenge: str = Query(..., alias="hub.challenge", max_length=1000),
) -> PlainTextResponse:
    integration = runtime.integration(request, Provider.WHATSAPP, integration_id)
    expected = integration.verify_token.get_secret_value() if integration.verify_token else ""
    if mode != "subscribe" or not verify_shared_token(expected, verify_token):
        raise BadSignature("hub.verify_token does not match", reason="bad_verify_token")
    return PlainTextResponse(challenge)


@router.post(
    "/webhooks/whatsapp/{integration_id}",
    summary="WhatsApp Cloud API webhook (messages and statuses)",
    response_model=WebhookAck,
    responses=error_responses(*WEBHOOK_ERROR_CODES),
    openapi_extra=request_body({"application/json": WhatsAppWebhook}),
)
async def receive_whatsapp(integration_id: str, request: Request, runtime: RuntimeDep) -> Response:
    integration = runtime.integration(request, Provider.WHATSAPP, integration_id)
    body = await runtime.body(request)
    verify(integration, body, request.headers.get("x-hub-signature-256"))
    async with runtime.keeping_unreadable(request, integration, body):
        payload = validate_payload(WhatsAppWebhook, parse_json_object(body))
        events, ignored = normalised(normalise, payload, runtime.context(integration))
    ack = await runtime.require_ingest().accept(PROVIDER, events, ignored=ignored)
    return json_response(ack)

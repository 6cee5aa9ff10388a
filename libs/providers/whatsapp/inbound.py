"""WhatsApp Cloud API (Meta) inbound: X-Hub-Signature-256 over the raw body, GET handshake.

Messages carry a reply path (the sender's wa_id); ``statuses`` of our own
messages (sent, delivered, read, failed + ``errors[]``) become
``delivery_status`` interactions carrying a :class:`DeliveryReceipt`
(developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/
reference/messages/status).
"""

from __future__ import annotations

from pydantic import Field

from libs.common.events import (
    Attachment,
    CustomerIdentity,
    DeliveryReceipt,
    DeliveryState,
    Direction,
    InteractionKind,
)
from libs.common.webhooks import (
    BadSignature,
    verify_hmac_sha256,
    verify_shared_token,
)
from libs.providers.inbound import (
    ChatEvent,
    IngestContext,
    Lenient,
    authentic,
    chat_interaction,
    event_id,
    from_epoch,
    handle,
    hex_sha256_or_none,
    reply_path,
    to_e164,
)
from libs.providers.integrations import Integration, Provider
from libs.providers.webhooks import (
    InboundOptions,
    InboundSpec,
    Parsed,
    WebhookInput,
    json_payload,
)

PROVIDER = Provider.WHATSAPP.value
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker", "voice")


class WaText(Lenient):
    body: str = ""


class WaMedia(Lenient):
    id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    filename: str | None = None


class WaButton(Lenient):
    text: str | None = None
    payload: str | None = None


class WaReply(Lenient):
    id: str | None = None
    title: str | None = None


class WaInteractive(Lenient):
    type: str | None = None
    button_reply: WaReply | None = None
    list_reply: WaReply | None = None


class WaLocation(Lenient):
    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None


class WaMessage(Lenient):
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


class WaProfile(Lenient):
    name: str | None = None


class WaContact(Lenient):
    wa_id: str
    profile: WaProfile | None = None


class WaError(Lenient):
    code: int | None = None
    title: str | None = None
    message: str | None = None


class WaStatus(Lenient):
    id: str
    status: str
    errors: list[WaError] = Field(default_factory=list)
    timestamp: str | int | None = None
    recipient_id: str | None = None


class WaMetadata(Lenient):
    phone_number_id: str | None = None
    display_phone_number: str | None = None


class WaValue(Lenient):
    messaging_product: str | None = None
    metadata: WaMetadata = Field(default_factory=WaMetadata)
    contacts: list[WaContact] = Field(default_factory=list)
    messages: list[WaMessage] = Field(default_factory=list)
    statuses: list[WaStatus] = Field(default_factory=list)


class WaChange(Lenient):
    field: str | None = None
    value: WaValue = Field(default_factory=WaValue)


class WaEntry(Lenient):
    id: str | None = None
    changes: list[WaChange] = Field(default_factory=list)


class WhatsAppWebhook(Lenient):
    object: str = Field(..., description="whatsapp_business_account")
    entry: list[WaEntry] = Field(default_factory=list)


def message_text(message: WaMessage) -> str:
    if message.text is not None:
        return message.text.body
    if message.button is not None:
        return message.button.text or ""
    if message.interactive is not None:
        # A pressed button/row of ours: its id is the payload we sent (e.g. "csat:4").
        reply = message.interactive.button_reply or message.interactive.list_reply
        return (reply.id or reply.title or "") if reply else ""
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
        reply_path=reply_path(context, PROVIDER, message.from_),
    )
    return ChatEvent(event_id(PROVIDER, context, message.id), interaction)


def _status_event(
    status: WaStatus, value: WaValue, names: dict[str, str], context: IngestContext
) -> ChatEvent | None:
    state = receipt(status)
    if not status.recipient_id or state is None:
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
        receipt=state,
    )
    return ChatEvent(event_id(PROVIDER, context, status.id, status.status), interaction)


STATUS_STATES = {
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ,
    "failed": DeliveryState.FAILED,
}


def receipt(status: WaStatus) -> DeliveryReceipt | None:
    state = STATUS_STATES.get(status.status)
    if state is None:  # e.g. "deleted", "warning": not a delivery state of ours
        return None
    error = status.errors[0] if status.errors else None
    return DeliveryReceipt(
        provider_message_id=status.id,
        state=state,
        error_code=str(error.code) if error and error.code is not None else None,
        error_detail=(error.title or error.message) if error else None,
    )


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


def verify(integration: Integration, webhook: WebhookInput, options: InboundOptions) -> None:
    signature = webhook.headers.get("x-hub-signature-256")
    ok = verify_hmac_sha256(integration.secret_value(), webhook.body, signature, prefix="sha256=")
    authentic(ok, integration, "X-Hub-Signature-256 missing or wrong")


def parse(webhook: WebhookInput, context: IngestContext, options: InboundOptions) -> Parsed:
    events, ignored = normalise(json_payload(WhatsAppWebhook, webhook), context)
    return Parsed(events, ignored)


def subscription_challenge(
    integration: Integration, *, mode: str, verify_token: str, challenge: str
) -> str:
    """The GET handshake of a webhook subscription: echo ``hub.challenge`` if ours."""
    expected = integration.verify_token.get_secret_value() if integration.verify_token else ""
    if mode != "subscribe" or not verify_shared_token(expected, verify_token):
        raise BadSignature(
            "hub.verify_token does not match",
            reason="bad_verify_token",
            provider=PROVIDER,
            integration=integration.id,
        )
    return challenge


INBOUND = InboundSpec(
    provider=Provider.WHATSAPP,
    summary="WhatsApp Cloud API webhook (messages and statuses)",
    verify=verify,
    parse=parse,
    payload_model=WhatsAppWebhook,
)

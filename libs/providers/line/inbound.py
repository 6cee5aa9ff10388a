"""LINE Messaging API inbound: X-Line-Signature = base64 HMAC-SHA256 of the raw body.

A message event carries a reply path: the userId (push) and the single-use
``replyToken`` with our expiry (:data:`~libs.providers.line.outbound.REPLY_TOKEN_TTL`).
A ``postback`` event (a pressed quick reply of ours) becomes a message whose
text is the postback data.
"""

from __future__ import annotations

from pydantic import Field

from libs.common.events import Attachment, CustomerIdentity, ReplyPath
from libs.common.webhooks import (
    verify_hmac_sha256,
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
    reply_path,
)
from libs.providers.integrations import Integration, Provider
from libs.providers.line.outbound import REPLY_TOKEN_TTL
from libs.providers.webhooks import (
    InboundOptions,
    InboundSpec,
    Parsed,
    WebhookInput,
    json_payload,
)

PROVIDER = Provider.LINE.value
MEDIA_TYPES = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/m4a", "file": None}


class LineSource(Lenient):
    type: str = "user"
    userId: str | None = None
    groupId: str | None = None
    roomId: str | None = None


class LineContentProvider(Lenient):
    type: str = "line"
    originalContentUrl: str | None = None


class LineMessage(Lenient):
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


class LineDeliveryContext(Lenient):
    isRedelivery: bool = False


class LinePostback(Lenient):
    data: str = ""


class LineEvent(Lenient):
    type: str
    timestamp: int | None = None
    source: LineSource | None = None
    webhookEventId: str | None = Field(None, description="ULID; the dedupe id.")
    deliveryContext: LineDeliveryContext = Field(default_factory=LineDeliveryContext)
    replyToken: str | None = None
    mode: str | None = None
    message: LineMessage | None = None
    postback: LinePostback | None = None


class LineWebhook(Lenient):
    destination: str | None = None
    events: list[LineEvent] = Field(default_factory=list)


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


def _reply_path(event: LineEvent, user_id: str, context: IngestContext) -> ReplyPath:
    return reply_path(
        context,
        PROVIDER,
        user_id,
        reply_token=event.replyToken,
        reply_token_expires_at=context.received_at + REPLY_TOKEN_TTL if event.replyToken else None,
    )


def _event(event: LineEvent, context: IngestContext) -> ChatEvent | None:
    source = event.source
    if source is None or not source.userId:
        return None
    if event.type == "postback" and event.postback is not None:
        text, message_id, files = event.postback.data, f"postback:{event.webhookEventId}", []
    elif event.type == "message" and event.message is not None:
        message = event.message
        text, message_id, files = message_text(message), message.id, attachments(message)
    else:
        return None
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=CustomerIdentity(handle=handle(PROVIDER, source.userId)),
        occurred_at=from_epoch(event.timestamp, millis=True),
        provider_message_id=message_id,
        text=text,
        thread_id=source.groupId or source.roomId or source.userId,
        attachments=files,
        reply_path=_reply_path(event, source.userId, context),
    )
    dedupe = event.webhookEventId or message_id
    return ChatEvent(event_id(PROVIDER, context, dedupe), interaction)


def normalise(payload: LineWebhook, context: IngestContext) -> tuple[list[ChatEvent], int]:
    """Message events from users; follows, postbacks, … are counted as ignored."""
    results = [_event(event, context) for event in payload.events]
    events = [e for e in results if e is not None]
    return events, len(results) - len(events)


def verify(integration: Integration, webhook: WebhookInput, options: InboundOptions) -> None:
    signature = webhook.headers.get("x-line-signature")
    ok = verify_hmac_sha256(integration.secret_value(), webhook.body, signature, encoding="base64")
    authentic(ok, integration, "X-Line-Signature missing or wrong")


def parse(webhook: WebhookInput, context: IngestContext, options: InboundOptions) -> Parsed:
    events, ignored = normalise(json_payload(LineWebhook, webhook), context)
    return Parsed(events, ignored)


INBOUND = InboundSpec(
    provider=Provider.LINE,
    summary="LINE Messaging API webhook",
    verify=verify,
    parse=parse,
    payload_model=LineWebhook,
)

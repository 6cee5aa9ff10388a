"""Twilio Messaging inbound (SMS, WhatsApp via Twilio): form-encoded, URL+params HMAC-SHA1.

An inbound message carries a reply path (the customer's number, with its
``whatsapp:`` prefix if any). A status callback of one of our messages
(``MessageStatus`` queued … delivered, read, undelivered, failed, plus
``ErrorCode``; twilio.com/docs/messaging/guides/track-outbound-message-status)
becomes a ``delivery_status`` interaction with a :class:`DeliveryReceipt`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from libs.common.events import (
    Attachment,
    CustomerIdentity,
    DeliveryReceipt,
    DeliveryState,
    Direction,
    InteractionKind,
)
from libs.common.webhooks import (
    verify_twilio,
)
from libs.common.webhooks.parsing import parse_form, validate_payload
from libs.providers.inbound import (
    ChatEvent,
    IngestContext,
    authentic,
    chat_interaction,
    event_id,
    handle,
    reply_path,
    to_e164,
)
from libs.providers.integrations import Integration, Provider
from libs.providers.webhooks import (
    FORM,
    Answer,
    InboundOptions,
    InboundSpec,
    Parsed,
    WebhookAck,
    WebhookInput,
    single,
)

PROVIDER = Provider.TWILIO.value
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
#: MessageStatus values of an inbound message; others are status callbacks of ours.
INBOUND_STATUSES = {"received", "receiving", ""}


class TwilioMessageForm(BaseModel):
    """The fields we read (Twilio sends more; all of them are signed)."""

    model_config = ConfigDict(extra="allow")

    MessageSid: str = Field(..., description="SM… (34 chars); the dedupe id.")
    AccountSid: str | None = None
    MessagingServiceSid: str | None = None
    From: str = Field(..., description="+E.164 or whatsapp:+E.164")
    To: str | None = None
    Body: str = ""
    NumMedia: int = 0
    ProfileName: str | None = Field(None, description="WhatsApp profile name.")
    MessageStatus: str | None = Field(None, description="Set on status callbacks.")
    ErrorCode: str | None = Field(None, description="Status callbacks of failed messages.")


def form_fields(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """First value of each field (Twilio does not repeat message fields)."""
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


def media(fields: dict[str, str], count: int) -> list[Attachment]:
    attachments = []
    for index in range(min(count, 20)):
        url = fields.get(f"MediaUrl{index}")
        if url:
            content_type = fields.get(f"MediaContentType{index}") or "application/octet-stream"
            attachments.append(Attachment(url=url, content_type=content_type))
    return attachments


STATUS_STATES = {
    "accepted": DeliveryState.ACCEPTED,
    "queued": DeliveryState.ACCEPTED,
    "scheduled": DeliveryState.ACCEPTED,
    "sending": DeliveryState.ACCEPTED,
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ,
    "undelivered": DeliveryState.FAILED,
    "failed": DeliveryState.FAILED,
    "canceled": DeliveryState.FAILED,
}


def receipt(form: TwilioMessageForm, status: str) -> DeliveryReceipt:
    return DeliveryReceipt(
        provider_message_id=form.MessageSid,
        state=STATUS_STATES.get(status, DeliveryState.SENT),
        error_code=form.ErrorCode or None,
        error_detail=f"MessageStatus={status}" if form.ErrorCode else None,
    )


def normalise(form: TwilioMessageForm, fields: dict[str, str], context: IngestContext) -> ChatEvent:
    status = (form.MessageStatus or "").lower()
    is_status = status not in INBOUND_STATUSES
    # A status callback is about a message we sent: the customer is its recipient.
    customer_number = (form.To if is_status else form.From) or ""
    our_number = (form.From if is_status else form.To) or ""
    phone = to_e164(customer_number, context.region)
    customer = CustomerIdentity(
        phone=phone,
        handle=None if phone else handle(PROVIDER, customer_number),
        display_name=form.ProfileName,
    )
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=customer,
        occurred_at=None,  # Twilio sends no message timestamp
        provider_message_id=form.MessageSid,
        text="" if is_status else form.Body,
        direction=Direction.OUTBOUND if is_status else Direction.INBOUND,
        kind=InteractionKind.DELIVERY_STATUS if is_status else InteractionKind.MESSAGE,
        thread_id=f"{our_number}|{customer_number}",
        attachments=[] if is_status else media(fields, form.NumMedia),
        reply_path=None if is_status else reply_path(context, PROVIDER, customer_number),
        receipt=receipt(form, status) if is_status else None,
    )
    ids = (form.MessageSid, status) if is_status else (form.MessageSid,)
    return ChatEvent(event_id(PROVIDER, context, *ids), interaction)


def verify(integration: Integration, webhook: WebhookInput, options: InboundOptions) -> None:
    signature = webhook.headers.get("x-twilio-signature")
    pairs = parse_form(webhook.body)
    ok = verify_twilio(integration.secret_value(), webhook.url, pairs, signature)
    authentic(ok, integration, "X-Twilio-Signature missing or wrong for this URL and parameters")


def parse(webhook: WebhookInput, context: IngestContext, options: InboundOptions) -> Parsed:
    fields = form_fields(parse_form(webhook.body))
    return single(normalise(validated(fields), fields, context))


def validated(fields: dict[str, str]) -> TwilioMessageForm:
    if "MessageSid" not in fields and "SmsSid" in fields:
        fields = {**fields, "MessageSid": fields["SmsSid"]}  # older callbacks
    return validate_payload(TwilioMessageForm, fields)


def answer(
    parsed: Parsed, ack: WebhookAck, integration: Integration, options: InboundOptions
) -> Answer:
    """TwiML with no reply: our answers go out through the Messages API."""
    return Answer(EMPTY_TWIML, media_type="application/xml")


INBOUND = InboundSpec(
    provider=Provider.TWILIO,
    summary="Twilio Messaging webhook (SMS, WhatsApp via Twilio, status callbacks)",
    verify=verify,
    parse=parse,
    payload_model=TwilioMessageForm,
    answer=answer,
    response_model=None,
    content_type=FORM,
    needs_public_url=True,
)

"""Twilio Messaging (SMS, and WhatsApp via Twilio): form-encoded, URL+params HMAC-SHA1."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from libs.common.events import Attachment, CustomerIdentity, Direction, InteractionKind
from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    BadSignature,
    error_responses,
    parse_form,
    request_body,
    require_content_type,
    validate_payload,
    verify_twilio,
)
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

PROVIDER = Provider.TWILIO.value
FORM = "application/x-www-form-urlencoded"
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


def verify(
    integration: Integration, url: str, pairs: list[tuple[str, str]], signature: str | None
) -> None:
    if not verify_twilio(integration.secret_value(), url, pairs, signature):
        raise BadSignature(
            "X-Twilio-Signature missing or wrong for this URL and parameters",
            provider=PROVIDER,
            integration=integration.id,
        )


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
    )
    ids = (form.MessageSid, status) if is_status else (form.MessageSid,)
    return ChatEvent(event_id(PROVIDER, context, *ids), interaction)


router = APIRouter(tags=["twilio"])


@router.post(
    "/webhooks/twilio/{integration_id}",
    summary="Twilio Messaging webhook (SMS, WhatsApp via Twilio, status callbacks)",
    response_class=Response,
    responses={
        200: {
            "content": {"application/xml": {"schema": {"type": "string"}}},
            "description": "TwiML",
        },
        **error_responses(*WEBHOOK_ERROR_CODES, 415),
    },
    openapi_extra=request_body({FORM: TwilioMessageForm}),
)
async def receive_twilio(integration_id: str, request: Request, runtime: RuntimeDep) -> Response:
    integration = runtime.integration(request, Provider.TWILIO, integration_id)
    require_content_type(request, FORM)
    body = await runtime.body(request)
    pairs = parse_form(body)
    verify(
        integration, runtime.public_url(request), pairs, request.headers.get("x-twilio-signature")
    )
    fields = form_fields(pairs)
    async with runtime.keeping_unreadable(request, integration, body):
        form = _validated(fields)
        event = normalised(normalise, form, fields, runtime.context(integration))
    await runtime.require_ingest().accept(PROVIDER, [event])
    return Response(EMPTY_TWIML, media_type="application/xml")


def _validated(fields: dict[str, str]) -> TwilioMessageForm:
    if "MessageSid" not in fields and "SmsSid" in fields:
        fields = {**fields, "MessageSid": fields["SmsSid"]}  # older callbacks
    return validate_payload(TwilioMessageForm, fields)

"""The twilio webhook route (parsing and verification: libs/providers/twilio)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    error_responses,
    parse_form,
    request_body,
    require_content_type,
    validate_payload,
)
from libs.providers.inbound import (
    normalised,
)
from libs.providers.integrations import Provider
from libs.providers.twilio.inbound import (
    EMPTY_TWIML,
    FORM,
    PROVIDER,
    TwilioMessageForm,
    form_fields,
    normalise,
    verify,
)
from services.chat_ingest.runtime import RuntimeDep

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

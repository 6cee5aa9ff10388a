"""The whatsapp webhook route (parsing and verification: libs/providers/whatsapp)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    BadSignature,
    error_responses,
    parse_json_object,
    request_body,
    validate_payload,
    verify_shared_token,
)
from libs.providers.inbound import (
    normalised,
)
from libs.providers.integrations import Provider
from libs.providers.whatsapp.inbound import (
    PROVIDER,
    WhatsAppWebhook,
    normalise,
    verify,
)
from services.chat_ingest.ingest import WebhookAck, json_response
from services.chat_ingest.runtime import RuntimeDep

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

"""The line webhook route (parsing and verification: libs/providers/line)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    error_responses,
    parse_json_object,
    request_body,
    validate_payload,
)
from libs.providers.inbound import (
    normalised,
)
from libs.providers.integrations import Provider
from libs.providers.line.inbound import (
    PROVIDER,
    LineWebhook,
    normalise,
    verify,
)
from services.chat_ingest.ingest import WebhookAck, json_response
from services.chat_ingest.runtime import RuntimeDep

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

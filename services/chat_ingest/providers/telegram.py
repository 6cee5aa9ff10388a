"""The telegram webhook route (parsing and verification: libs/providers/telegram)."""

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
from libs.providers.telegram.inbound import (
    PROVIDER,
    TelegramUpdate,
    normalise,
    verify,
)
from services.chat_ingest.ingest import WebhookAck, json_response
from services.chat_ingest.runtime import RuntimeDep

router = APIRouter(tags=["telegram"])


@router.post(
    "/webhooks/telegram/{integration_id}",
    summary="Telegram Bot API webhook (Update)",
    response_model=WebhookAck,
    responses=error_responses(*WEBHOOK_ERROR_CODES),
    openapi_extra=request_body({"application/json": TelegramUpdate}),
)
async def receive_telegram(integration_id: str, request: Request, runtime: RuntimeDep) -> Response:
    integration = runtime.integration(request, Provider.TELEGRAM, integration_id)
    verify(integration, request.headers.get("x-telegram-bot-api-secret-token"))
    body = await runtime.body(request)
    async with runtime.keeping_unreadable(request, integration, body):
        update = validate_payload(TelegramUpdate, parse_json_object(body))
        event = normalised(normalise, update, runtime.context(integration))
    events = [event] if event else []
    ack = await runtime.require_ingest().accept(PROVIDER, events, ignored=0 if event else 1)
    return json_response(ack)

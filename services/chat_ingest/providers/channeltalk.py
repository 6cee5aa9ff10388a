"""The channeltalk webhook route (parsing and verification: libs/providers/channeltalk)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    error_responses,
    parse_json_object,
    request_body,
    validate_payload,
)
from libs.providers.channeltalk.inbound import (
    PROVIDER,
    ChannelTalkWebhook,
    normalise,
    verify,
)
from libs.providers.inbound import (
    normalised,
)
from libs.providers.integrations import Provider
from services.chat_ingest.ingest import WebhookAck, json_response
from services.chat_ingest.runtime import RuntimeDep

router = APIRouter(tags=["channeltalk"])


@router.post(
    "/webhooks/channeltalk/{integration_id}",
    summary="Channel Talk webhook (authenticated by ?token=)",
    response_model=WebhookAck,
    responses=error_responses(*WEBHOOK_ERROR_CODES),
    openapi_extra=request_body({"application/json": ChannelTalkWebhook}),
)
async def receive_channeltalk(
    integration_id: str,
    request: Request,
    runtime: RuntimeDep,
    token: str | None = Query(None, description="The integration's shared token."),
) -> Response:
    integration = runtime.integration(request, Provider.CHANNELTALK, integration_id)
    verify(integration, token)
    body = await runtime.body(request)
    async with runtime.keeping_unreadable(request, integration, body):
        payload = validate_payload(ChannelTalkWebhook, parse_json_object(body))
        event = normalised(normalise, payload, runtime.context(integration))
    events = [event] if event else []
    ack = await runtime.require_ingest().accept(PROVIDER, events, ignored=0 if event else 1)
    return json_response(ack)

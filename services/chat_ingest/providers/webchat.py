"""The webchat webhook route (parsing and verification: libs/providers/webchat)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

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
from libs.providers.webchat.inbound import (
    PROVIDER,
    WebchatMessage,
    normalise,
    verify,
)
from services.chat_ingest.ingest import WebhookAck, json_response
from services.chat_ingest.runtime import RuntimeDep

router = APIRouter(tags=["webchat"])


@router.post(
    "/webhooks/webchat/{integration_id}/messages",
    summary="Web chat message (site widget or in-house chat)",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAck,
    responses=error_responses(*WEBHOOK_ERROR_CODES),
    openapi_extra=request_body({"application/json": WebchatMessage}),
)
async def create_webchat_message(
    integration_id: str, request: Request, runtime: RuntimeDep
) -> Response:
    integration = runtime.integration(request, Provider.WEBCHAT, integration_id)
    body = await runtime.body(request)
    verify(integration, body, request.headers)
    async with runtime.keeping_unreadable(request, integration, body):
        message = validate_payload(WebchatMessage, parse_json_object(body))
        event = normalised(normalise, message, runtime.context(integration))
    ack = await runtime.require_ingest().accept(PROVIDER, [event])
    return json_response(ack, status.HTTP_202_ACCEPTED)

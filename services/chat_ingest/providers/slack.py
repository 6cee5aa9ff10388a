"""The slack webhook route (parsing and verification: libs/providers/slack)."""

from __future__ import annotations

import logging

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
from libs.providers.slack.inbound import (
    PROVIDER,
    SlackAnswer,
    SlackEnvelope,
    normalise,
    verify,
)
from services.chat_ingest.ingest import json_response
from services.chat_ingest.runtime import RuntimeDep

log = logging.getLogger(__name__)


router = APIRouter(tags=["slack"])


@router.post(
    "/webhooks/slack/{integration_id}",
    summary="Slack Events API (event_callback, url_verification; retries recognised)",
    response_model=SlackAnswer,
    response_model_exclude_none=True,
    responses=error_responses(*WEBHOOK_ERROR_CODES),
    openapi_extra=request_body({"application/json": SlackEnvelope}),
)
async def receive_slack(integration_id: str, request: Request, runtime: RuntimeDep) -> Response:
    integration = runtime.integration(request, Provider.SLACK, integration_id)
    body = await runtime.body(request)
    verify(
        integration,
        request.headers,
        body,
        now=runtime.clock(),
        tolerance_s=runtime.settings.slack_tolerance_s,
    )
    async with runtime.keeping_unreadable(request, integration, body):
        envelope = validate_payload(SlackEnvelope, parse_json_object(body))
        if envelope.type == "url_verification":
            answer = SlackAnswer(challenge=envelope.challenge or "")
            return json_response(answer, exclude_none=True)
        _note_retry(request, envelope)
        event = normalised(normalise, envelope, runtime.context(integration))
    events = [event] if event else []
    ack = await runtime.require_ingest().accept(PROVIDER, events, ignored=0 if event else 1)
    return json_response(SlackAnswer(**ack.model_dump()), exclude_none=True)


def _note_retry(request: Request, envelope: SlackEnvelope) -> None:
    retry = request.headers.get("x-slack-retry-num")
    if retry:
        log.info(
            "slack retry %s (%s)",
            retry,
            request.headers.get("x-slack-retry-reason", "unknown"),
            extra={"provider": PROVIDER, "slack_event_id": envelope.event_id},
        )

"""Slack Events API: v0 signature with a 300 s window, url_verification, retries."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from libs.common.events import Attachment, CustomerIdentity, Direction
from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    BadSignature,
    MalformedPayload,
    error_responses,
    parse_json_object,
    request_body,
    validate_payload,
    verify_slack,
)
from services.chat_ingest.ingest import json_response
from services.chat_ingest.integrations import Integration, Provider
from services.chat_ingest.normalise import (
    ChatEvent,
    IngestContext,
    chat_interaction,
    event_id,
    from_epoch,
    handle,
)
from services.chat_ingest.runtime import RuntimeDep, normalised

log = logging.getLogger(__name__)

PROVIDER = Provider.SLACK.value
MESSAGE_EVENTS = {"message", "app_mention"}
#: Message subtypes that are a new message (edits, deletes, joins … are not).
MESSAGE_SUBTYPES = {None, "bot_message", "file_share", "thread_broadcast", "me_message"}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class SlackFile(_Lenient):
    id: str | None = None
    name: str | None = None
    mimetype: str | None = None
    size: int | None = Field(None, ge=0)
    url_private: str | None = None


class SlackInnerEvent(_Lenient):
    type: str
    subtype: str | None = None
    user: str | None = None
    bot_id: str | None = None
    text: str | None = None
    ts: str | None = None
    thread_ts: str | None = None
    channel: str | None = None
    channel_type: str | None = None
    client_msg_id: str | None = None
    files: list[SlackFile] = Field(default_factory=list)


class SlackEnvelope(_Lenient):
    type: str = Field(..., description="event_callback or url_verification")
    challenge: str | None = Field(None, description="url_verification only.")
    team_id: str | None = None
    api_app_id: str | None = None
    event: SlackInnerEvent | None = None
    event_id: str | None = Field(None, description="The dedupe id.")
    event_time: int | None = None


class SlackAnswer(BaseModel):
    """``{"challenge"}`` for url_verification, else the ack counts."""

    challenge: str | None = None
    accepted: int | None = None
    duplicates: int | None = None
    ignored: int | None = None
    event_ids: list[str] | None = None


def verify(integration: Integration, request: Request, body: bytes, tolerance_s: int) -> None:
    ok = verify_slack(
        integration.secret_value(),
        timestamp=request.headers.get("x-slack-request-timestamp"),
        body=body,
        signature=request.headers.get("x-slack-signature"),
        tolerance_s=tolerance_s,
    )
    if not ok:
        raise BadSignature(
            "X-Slack-Signature missing or wrong, or X-Slack-Request-Timestamp outside the window",
            provider=PROVIDER,
            integration=integration.id,
        )


def is_customer_message(event: SlackInnerEvent) -> bool:
    return event.type in MESSAGE_EVENTS and event.subtype in MESSAGE_SUBTYPES


def attachments(event: SlackInnerEvent) -> list[Attachment]:
    return [
        Attachment(
            name=f.name,
            content_type=f.mimetype or "application/octet-stream",
            size=f.size,
            url=f.url_private,
        )
        for f in event.files
    ]


def normalise(envelope: SlackEnvelope, context: IngestContext) -> ChatEvent | None:
    """A message event; None for anything else. Keyed by channel so both directions
    of one conversation stay in order."""
    event = envelope.event
    if envelope.type != "event_callback" or event is None or not is_customer_message(event):
        return None
    if not envelope.event_id or not event.channel:
        raise MalformedPayload("event_callback without event_id or event.channel")
    author = event.user or event.bot_id
    outbound = (
        event.bot_id is not None
        or event.subtype == "bot_message"
        or (event.user is not None and event.user in context.agent_ids)
    )
    customer_handle = handle(PROVIDER, event.channel if outbound or not author else author)
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=CustomerIdentity(handle=customer_handle),
        customer_key=handle(PROVIDER, f"{envelope.team_id or ''}/{event.channel}"),
        occurred_at=from_epoch(event.ts),
        provider_message_id=event.client_msg_id or event.ts or envelope.event_id,
        text=event.text or "",
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        thread_id=f"{event.channel}:{event.thread_ts or event.ts}",
        attachments=attachments(event),
    )
    return ChatEvent(_message_event_id(envelope, event, context), interaction)


def _message_event_id(
    envelope: SlackEnvelope, event: SlackInnerEvent, context: IngestContext
) -> str:
    """One id per Slack message: a mention arrives as both a `message` and an
    `app_mention` event with different event_ids, and must not become two."""
    if event.ts:
        return event_id(PROVIDER, context, envelope.team_id, event.channel, event.ts)
    return event_id(PROVIDER, context, envelope.event_id)


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
    verify(integration, request, body, runtime.settings.slack_tolerance_s)
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

"""Slack Events API: v0 signature with a 300 s window, url_verification, retries."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import BaseModel, Field

from libs.common.events import Attachment, CustomerIdentity, Direction
from libs.common.webhooks import (
    MalformedPayload,
    verify_slack,
)
from libs.providers.inbound import (
    ChatEvent,
    IngestContext,
    Lenient,
    authentic,
    chat_interaction,
    event_id,
    from_epoch,
    handle,
    reply_path,
)
from libs.providers.integrations import Integration, Provider
from libs.providers.webhooks import (
    Answer,
    InboundOptions,
    InboundSpec,
    Parsed,
    WebhookAck,
    WebhookInput,
    json_payload,
    single,
)

log = logging.getLogger(__name__)

PROVIDER = Provider.SLACK.value
MESSAGE_EVENTS = {"message", "app_mention"}
#: Message subtypes that are a new message (edits, deletes, joins … are not).
MESSAGE_SUBTYPES = {None, "bot_message", "file_share", "thread_broadcast", "me_message"}


class SlackFile(Lenient):
    id: str | None = None
    name: str | None = None
    mimetype: str | None = None
    size: int | None = Field(None, ge=0)
    url_private: str | None = None


class SlackInnerEvent(Lenient):
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


class SlackEnvelope(Lenient):
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


def is_customer_message(event: SlackInnerEvent) -> bool:
    return event.type in MESSAGE_EVENTS and event.subtype in MESSAGE_SUBTYPES


def attachments(event: SlackInnerEvent) -> list[Attachment]:
    return [
        Attachment(
            name=f.name,
            content_type=f.mimetype or "application/octet-stream",
            size=f.size,
            # the id, fetched through files.info (libs/providers/slack/media.py)
            url=f"slack-file:{f.id}" if f.id else f.url_private,
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
        reply_path=None
        if outbound
        else reply_path(context, PROVIDER, event.channel, thread=event.thread_ts or event.ts),
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


def verify(integration: Integration, webhook: WebhookInput, options: InboundOptions) -> None:
    """Signature and timestamp window, measured from ``received_at`` (the app's clock)."""
    ok = verify_slack(
        integration.secret_value(),
        timestamp=webhook.headers.get("x-slack-request-timestamp"),
        body=webhook.body,
        signature=webhook.headers.get("x-slack-signature"),
        now=webhook.received_at.timestamp(),
        tolerance_s=options.slack_tolerance_s,
    )
    authentic(
        ok,
        integration,
        "X-Slack-Signature missing or wrong, or X-Slack-Request-Timestamp outside the window",
    )


def parse(webhook: WebhookInput, context: IngestContext, options: InboundOptions) -> Parsed:
    envelope = json_payload(SlackEnvelope, webhook)
    if envelope.type == "url_verification":
        challenge = SlackAnswer(challenge=envelope.challenge or "")
        return Parsed(handshake=Answer(challenge, exclude_none=True))
    note_retry(webhook.headers, envelope)
    return single(normalise(envelope, context))


def note_retry(headers: Mapping[str, str], envelope: SlackEnvelope) -> None:
    retry = headers.get("x-slack-retry-num")
    if retry:
        log.info(
            "slack retry %s (%s)",
            retry,
            headers.get("x-slack-retry-reason", "unknown"),
            extra={"provider": PROVIDER, "slack_event_id": envelope.event_id},
        )


def answer(
    parsed: Parsed, ack: WebhookAck, integration: Integration, options: InboundOptions
) -> Answer:
    return Answer(SlackAnswer(**ack.model_dump()), exclude_none=True)


INBOUND = InboundSpec(
    provider=Provider.SLACK,
    summary="Slack Events API (event_callback, url_verification; retries recognised)",
    verify=verify,
    parse=parse,
    payload_model=SlackEnvelope,
    answer=answer,
    response_model=SlackAnswer,
)

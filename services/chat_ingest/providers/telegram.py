"""Telegram Bot API: JSON Update, secret token header compared in constant time."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from libs.common.events import Attachment, CustomerIdentity, Direction
from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    BadSignature,
    error_responses,
    parse_json_object,
    request_body,
    validate_payload,
    verify_shared_token,
)
from services.chat_ingest.ingest import WebhookAck, json_response
from services.chat_ingest.integrations import Integration, Provider
from services.chat_ingest.normalise import (
    ChatEvent,
    IngestContext,
    chat_interaction,
    event_id,
    from_epoch,
    handle,
    join_name,
)
from services.chat_ingest.runtime import RuntimeDep, normalised

PROVIDER = Provider.TELEGRAM.value
FILE_FIELDS = ("document", "audio", "video", "voice", "video_note", "animation", "sticker")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class TgUser(_Lenient):
    id: int
    is_bot: bool = False
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None


class TgChat(_Lenient):
    id: int
    type: str = "private"
    title: str | None = None


class TgFile(_Lenient):
    file_id: str
    file_unique_id: str | None = None
    file_size: int | None = Field(None, ge=0)
    mime_type: str | None = None
    file_name: str | None = None


class TgMessage(_Lenient):
    message_id: int
    from_: TgUser | None = Field(None, alias="from")
    chat: TgChat
    date: int | None = None
    text: str | None = None
    caption: str | None = None
    message_thread_id: int | None = None
    photo: list[TgFile] = Field(default_factory=list)
    document: TgFile | None = None
    audio: TgFile | None = None
    video: TgFile | None = None
    voice: TgFile | None = None
    video_note: TgFile | None = None
    animation: TgFile | None = None
    sticker: TgFile | None = None


class TelegramUpdate(_Lenient):
    update_id: int = Field(..., description="The dedupe id.")
    message: TgMessage | None = None
    edited_message: TgMessage | None = None
    channel_post: TgMessage | None = None
    business_message: TgMessage | None = None


def verify(integration: Integration, token: str | None) -> None:
    if not verify_shared_token(integration.secret_value(), token):
        raise BadSignature(
            "X-Telegram-Bot-Api-Secret-Token missing or wrong",
            provider=PROVIDER,
            integration=integration.id,
        )


def attachments(message: TgMessage) -> list[Attachment]:
    found: list[Attachment] = []
    if message.photo:  # sizes of one photo; the last is the largest
        largest = message.photo[-1]
        found.append(_attachment(largest, "image/jpeg"))
    for name in FILE_FIELDS:
        file = getattr(message, name)
        if file is not None:
            found.append(_attachment(file, "application/octet-stream"))
    return found


def _attachment(file: TgFile, default_type: str) -> Attachment:
    return Attachment(
        name=file.file_name,
        content_type=file.mime_type or default_type,
        size=file.file_size,
        url=f"telegram-file:{file.file_id}",  # resolved with getFile by the consumer
    )


def normalise(update: TelegramUpdate, context: IngestContext) -> ChatEvent | None:
    """A message from a person; None for other update kinds (edits, channel posts, …)."""
    message = update.message or update.business_message
    if message is None or message.from_ is None:
        return None
    sender = message.from_
    outbound = sender.is_bot or str(sender.id) in context.agent_ids
    thread = f"{message.chat.id}" + (
        f":{message.message_thread_id}" if message.message_thread_id else ""
    )
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=CustomerIdentity(
            handle=handle(PROVIDER, sender.id),
            display_name=join_name(sender.first_name, sender.last_name) or sender.username,
            locale=sender.language_code,
        ),
        occurred_at=from_epoch(message.date),
        provider_message_id=f"{message.chat.id}:{message.message_id}",
        text=message.text or message.caption or "",
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        thread_id=thread,
        attachments=attachments(message),
    )
    return ChatEvent(event_id(PROVIDER, context, update.update_id), interaction)


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

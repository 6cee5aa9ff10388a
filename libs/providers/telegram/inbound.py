"""Telegram Bot API inbound: the JSON ``Update``, authenticated by the secret token header.

Reference: core.telegram.org/bots/api#setwebhook (``secret_token`` →
``X-Telegram-Bot-Api-Secret-Token``), #update, #message, #callbackquery.
A pressed inline-keyboard button (our quick replies) arrives as a
``callback_query`` whose ``data`` is the button's payload: it becomes an
inbound message with that text, so a survey answer reaches the router.
"""

from __future__ import annotations

from pydantic import Field

from libs.common.events import Attachment, CustomerIdentity, Direction
from libs.common.webhooks.signatures import verify_shared_token
from libs.providers.inbound import (
    ChatEvent,
    IngestContext,
    Lenient,
    authentic,
    chat_interaction,
    event_id,
    from_epoch,
    handle,
    join_name,
    reply_path,
)
from libs.providers.integrations import Integration, Provider
from libs.providers.webhooks import (
    InboundOptions,
    InboundSpec,
    Parsed,
    WebhookInput,
    json_payload,
    single,
)

PROVIDER = Provider.TELEGRAM.value
FILE_FIELDS = ("document", "audio", "video", "voice", "video_note", "animation", "sticker")


class TgUser(Lenient):
    id: int
    is_bot: bool = False
    first_name: str = ""
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None


class TgChat(Lenient):
    id: int
    type: str = "private"
    title: str | None = None


class TgFile(Lenient):
    file_id: str
    file_unique_id: str | None = None
    file_size: int | None = Field(None, ge=0)
    mime_type: str | None = None
    file_name: str | None = None


class TgMessage(Lenient):
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


class TgCallbackQuery(Lenient):
    id: str
    from_: TgUser = Field(..., alias="from")
    message: TgMessage | None = Field(None, description="The message with the button.")
    data: str | None = Field(None, description="callback_data of the pressed button.")


class TelegramUpdate(Lenient):
    update_id: int = Field(..., description="The dedupe id.")
    message: TgMessage | None = None
    edited_message: TgMessage | None = None
    channel_post: TgMessage | None = None
    business_message: TgMessage | None = None
    callback_query: TgCallbackQuery | None = None


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


def _customer(sender: TgUser) -> CustomerIdentity:
    return CustomerIdentity(
        handle=handle(PROVIDER, sender.id),
        display_name=join_name(sender.first_name, sender.last_name) or sender.username,
        locale=sender.language_code,
    )


def normalise(update: TelegramUpdate, context: IngestContext) -> ChatEvent | None:
    """A message from a person (or a pressed button); None for other update kinds."""
    if update.callback_query is not None:
        return _button_press(update, update.callback_query, context)
    message = update.message or update.business_message
    if message is None or message.from_ is None:
        return None
    sender = message.from_
    outbound = sender.is_bot or str(sender.id) in context.agent_ids
    topic = str(message.message_thread_id) if message.message_thread_id else None
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=_customer(sender),
        occurred_at=from_epoch(message.date),
        provider_message_id=f"{message.chat.id}:{message.message_id}",
        text=message.text or message.caption or "",
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        thread_id=f"{message.chat.id}" + (f":{topic}" if topic else ""),
        attachments=attachments(message),
        reply_path=None
        if outbound
        else reply_path(context, PROVIDER, message.chat.id, thread=topic),
    )
    return ChatEvent(event_id(PROVIDER, context, update.update_id), interaction)


def _button_press(
    update: TelegramUpdate, query: TgCallbackQuery, context: IngestContext
) -> ChatEvent | None:
    if query.message is None or query.data is None:
        return None  # an inline-mode query: nothing of ours
    chat = query.message.chat.id
    topic = str(query.message.message_thread_id) if query.message.message_thread_id else None
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=_customer(query.from_),
        occurred_at=None,  # a callback query carries no time
        provider_message_id=f"callback:{query.id}",
        text=query.data,
        thread_id=f"{chat}" + (f":{topic}" if topic else ""),
        reply_path=reply_path(context, PROVIDER, chat, thread=topic),
    )
    return ChatEvent(event_id(PROVIDER, context, update.update_id), interaction)


def verify(integration: Integration, webhook: WebhookInput, options: InboundOptions) -> None:
    token = webhook.headers.get("x-telegram-bot-api-secret-token")
    ok = verify_shared_token(integration.secret_value(), token)
    authentic(ok, integration, "X-Telegram-Bot-Api-Secret-Token missing or wrong")


def parse(webhook: WebhookInput, context: IngestContext, options: InboundOptions) -> Parsed:
    return single(normalise(json_payload(TelegramUpdate, webhook), context))


INBOUND = InboundSpec(
    provider=Provider.TELEGRAM,
    summary="Telegram Bot API webhook (Update)",
    verify=verify,
    parse=parse,
    payload_model=TelegramUpdate,
)

"""Channel Talk (channel.io): shared token in the query string, no HMAC."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from libs.common.events import Attachment, CustomerIdentity, Direction, ReplyPath
from libs.common.webhooks import (
    MalformedPayload,
    validate_payload,
    verify_shared_token,
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
    to_e164,
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

PROVIDER = Provider.CHANNELTALK.value
OUTBOUND_PERSONS = {"manager", "bot"}


class CtFile(Lenient):
    id: str | None = None
    name: str | None = None
    size: int | None = Field(None, ge=0)
    contentType: str | None = None
    type: str | None = None
    url: str | None = None


class CtMessage(Lenient):
    id: str = Field(..., description="The dedupe id.")
    chatId: str | None = None
    chatType: str | None = Field(None, description="userChat or group")
    personType: str | None = Field(None, description="user, manager or bot")
    personId: str | None = None
    channelId: str | None = None
    createdAt: int | None = Field(None, description="Epoch milliseconds.")
    plainText: str | None = None
    files: list[CtFile] = Field(default_factory=list)


class CtProfile(Lenient):
    name: str | None = None
    email: str | None = None
    mobileNumber: str | None = None


class CtUser(Lenient):
    id: str | None = None
    memberId: str | None = None
    name: str | None = None
    language: str | None = None
    profile: CtProfile | None = None


class CtUserChat(Lenient):
    id: str | None = None
    userId: str | None = None


class CtRefers(Lenient):
    user: CtUser | None = None
    userChat: CtUserChat | None = None


class ChannelTalkWebhook(Lenient):
    event: str = Field(..., description="push for a new message")
    type: str = Field(..., description="message")
    entity: dict[str, Any] = Field(default_factory=dict)
    refers: CtRefers = Field(default_factory=CtRefers)


def attachments(message: CtMessage) -> list[Attachment]:
    return [
        Attachment(
            name=f.name,
            content_type=f.contentType or "application/octet-stream",
            size=f.size,
            url=f.url or (f"channeltalk-file:{f.id}" if f.id else None),
        )
        for f in message.files
    ]


def _customer(message: CtMessage, refers: CtRefers, context: IngestContext) -> CustomerIdentity:
    user = refers.user or CtUser()
    outbound = message.personType in OUTBOUND_PERSONS
    user_id = user.id or (refers.userChat.userId if refers.userChat else None)
    if not outbound:
        user_id = message.personId or user_id
    if not user_id:
        raise MalformedPayload("message without a user (personId / refers.user.id)")
    profile = user.profile or CtProfile()
    return CustomerIdentity(
        handle=handle(PROVIDER, user_id),
        phone=to_e164(profile.mobileNumber, context.region),
        email=profile.email,
        display_name=user.name or profile.name,
        locale=user.language,
    )


def _reply_path(message: CtMessage, context: IngestContext, outbound: bool) -> ReplyPath | None:
    """Customers are answered in their user chat (group chats are team-internal)."""
    if outbound or not message.chatId or message.chatType not in (None, "userChat"):
        return None
    return reply_path(context, PROVIDER, message.chatId)


def normalise(payload: ChannelTalkWebhook, context: IngestContext) -> ChatEvent | None:
    """A chat message (user → inbound; manager/bot → outbound); None for other events."""
    if payload.event != "push" or payload.type != "message":
        return None
    message = validate_payload(CtMessage, payload.entity)
    outbound = message.personType in OUTBOUND_PERSONS
    customer = _customer(message, payload.refers, context)
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=customer,
        customer_key=customer.handle or "",
        occurred_at=from_epoch(message.createdAt, millis=True),
        provider_message_id=message.id,
        text=message.plainText or "",
        direction=Direction.OUTBOUND if outbound else Direction.INBOUND,
        thread_id=message.chatId,
        attachments=attachments(message),
        reply_path=_reply_path(message, context, outbound),
    )
    return ChatEvent(event_id(PROVIDER, context, message.id), interaction)


def verify(integration: Integration, webhook: WebhookInput, options: InboundOptions) -> None:
    ok = verify_shared_token(integration.secret_value(), webhook.query.get("token"))
    authentic(ok, integration, "token query parameter missing or wrong")


def parse(webhook: WebhookInput, context: IngestContext, options: InboundOptions) -> Parsed:
    return single(normalise(json_payload(ChannelTalkWebhook, webhook), context))


INBOUND = InboundSpec(
    provider=Provider.CHANNELTALK,
    summary="Channel Talk webhook (authenticated by ?token=)",
    verify=verify,
    parse=parse,
    payload_model=ChannelTalkWebhook,
    query={"token": "The integration's shared token."},
)

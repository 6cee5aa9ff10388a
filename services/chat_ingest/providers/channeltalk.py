"""Channel Talk (channel.io): shared token in the query string, no HMAC."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
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
    to_e164,
)
from services.chat_ingest.runtime import RuntimeDep, normalised

PROVIDER = Provider.CHANNELTALK.value
OUTBOUND_PERSONS = {"manager", "bot"}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CtFile(_Lenient):
    id: str | None = None
    name: str | None = None
    size: int | None = Field(None, ge=0)
    contentType: str | None = None
    type: str | None = None
    url: str | None = None


class CtMessage(_Lenient):
    id: str = Field(..., description="The dedupe id.")
    chatId: str | None = None
    chatType: str | None = Field(None, description="userChat or group")
    personType: str | None = Field(None, description="user, manager or bot")
    personId: str | None = None
    channelId: str | None = None
    createdAt: int | None = Field(None, description="Epoch milliseconds.")
    plainText: str | None = None
    files: list[CtFile] = Field(default_factory=list)


class CtProfile(_Lenient):
    name: str | None = None
    email: str | None = None
    mobileNumber: str | None = None


class CtUser(_Lenient):
    id: str | None = None
    memberId: str | None = None
    name: str | None = None
    language: str | None = None
    profile: CtProfile | None = None


class CtUserChat(_Lenient):
    id: str | None = None
    userId: str | None = None


class CtRefers(_Lenient):
    user: CtUser | None = None
    userChat: CtUserChat | None = None


class ChannelTalkWebhook(_Lenient):
    event: str = Field(..., description="push for a new message")
    type: str = Field(..., description="message")
    entity: dict[str, Any] = Field(default_factory=dict)
    refers: CtRefers = Field(default_factory=CtRefers)


def verify(integration: Integration, token: str | None) -> None:
    if not verify_shared_token(integration.secret_value(), token):
        raise BadSignature(
            "token query parameter missing or wrong", provider=PROVIDER, integration=integration.id
        )


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
    )
    return ChatEvent(event_id(PROVIDER, context, message.id), interaction)


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

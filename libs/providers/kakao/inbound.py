"""Kakao i Open Builder skill: the HTTP answer is the bot's reply, within 5 s.

No signature exists: the skill URL carries our token (``?token=``) or, where
custom headers can be set, ``X-Omnidesk-Token``. No per-message id exists
either: the event id is derived from the user id, a hash of the utterance
and a time bucket (``kakao_dedupe_window_s``), so a retry within the window is
one event — and the same text sent twice within it is one event too.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from libs.common.events import CustomerIdentity
from libs.common.webhooks import (
    verify_shared_token,
)
from libs.providers.inbound import (
    ChatEvent,
    IngestContext,
    Lenient,
    authentic,
    chat_interaction,
    event_id,
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
)

PROVIDER = Provider.KAKAO.value
#: A skill callback URL is valid for one use within 1 minute (ai_chatbot_callback_guide).
CALLBACK_TTL = timedelta(minutes=1)


class KakaoUser(Lenient):
    id: str = Field(..., min_length=1, description="botUserKey")
    type: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class KakaoUserRequest(Lenient):
    utterance: str = ""
    lang: str | None = None
    timezone: str | None = None
    user: KakaoUser
    callbackUrl: str | None = None


class KakaoBot(Lenient):
    id: str | None = None
    name: str | None = None


class KakaoSkillPayload(Lenient):
    userRequest: KakaoUserRequest
    bot: KakaoBot | None = None
    intent: dict[str, Any] | None = None
    action: dict[str, Any] | None = None


class SimpleText(BaseModel):
    text: str


class SimpleTextOutput(BaseModel):
    simpleText: SimpleText


class SkillTemplate(BaseModel):
    outputs: list[SimpleTextOutput]


class SkillResponse(BaseModel):
    """Kakao skill response v2.0: one simpleText output, or — when the block has the
    Callback API on — ``useCallback`` with the waiting text, the answer following
    through the callback URL (ai_chatbot_callback_guide)."""

    version: Literal["2.0"] = "2.0"
    template: SkillTemplate | None = None
    useCallback: bool | None = None
    data: dict[str, str] | None = None


def derived_message_id(payload: KakaoSkillPayload, context: IngestContext, window_s: int) -> str:
    request = payload.userRequest
    digest = hashlib.sha256(request.utterance.encode()).hexdigest()[:32]
    bucket = int(context.received_at.timestamp()) // window_s
    return f"{request.user.id}:{digest}:{bucket}"


def locale(request: KakaoUserRequest) -> str | None:
    return request.lang.lower() if request.lang else None


def normalise(payload: KakaoSkillPayload, context: IngestContext, *, window_s: int) -> ChatEvent:
    request = payload.userRequest
    message_id = derived_message_id(payload, context, window_s)
    nickname = request.user.properties.get("nickname")
    interaction = chat_interaction(
        context,
        provider=PROVIDER,
        customer=CustomerIdentity(
            handle=handle(PROVIDER, request.user.id),
            display_name=nickname if isinstance(nickname, str) else None,
            locale=locale(request),
        ),
        occurred_at=None,  # the skill payload carries no timestamp
        provider_message_id=message_id,
        text=request.utterance,
        thread_id=f"{payload.bot.id if payload.bot else ''}|{request.user.id}",
        reply_path=reply_path(
            context,
            PROVIDER,
            request.user.id,
            callback_url=request.callbackUrl,
            callback_expires_at=context.received_at + CALLBACK_TTL if request.callbackUrl else None,
        ),
    )
    return ChatEvent(event_id(PROVIDER, context, message_id), interaction)


def acknowledgement(request: KakaoUserRequest, *, text_ko: str, text_en: str) -> SkillResponse:
    lang = locale(request) or "ko"
    text = text_ko if lang.startswith("ko") else text_en
    if request.callbackUrl:  # keep the callback for the agent's (or assistant's) answer
        return SkillResponse(useCallback=True, data={"text": text})
    return SkillResponse(
        template=SkillTemplate(outputs=[SimpleTextOutput(simpleText=SimpleText(text=text))])
    )


def verify(integration: Integration, webhook: WebhookInput, options: InboundOptions) -> None:
    token = webhook.headers.get("x-omnidesk-token") or webhook.query.get("token")
    ok = verify_shared_token(integration.secret_value(), token)
    authentic(ok, integration, "X-Omnidesk-Token header or token query parameter missing or wrong")


def parse(webhook: WebhookInput, context: IngestContext, options: InboundOptions) -> Parsed:
    payload = json_payload(KakaoSkillPayload, webhook)
    event = normalise(payload, context, window_s=options.kakao_dedupe_window_s)
    return Parsed([event], payload=payload)


def answer(
    parsed: Parsed, ack: WebhookAck, integration: Integration, options: InboundOptions
) -> Answer:
    """The skill's answer is the bot's reply: our acknowledgement (or useCallback)."""
    return Answer(
        acknowledgement(
            parsed.payload.userRequest,
            text_ko=options.kakao_ack_text_ko,
            text_en=options.kakao_ack_text_en,
        ),
        exclude_none=True,
    )


INBOUND = InboundSpec(
    provider=Provider.KAKAO,
    summary="Kakao i Open Builder skill (answers with the acknowledgement text)",
    verify=verify,
    parse=parse,
    payload_model=KakaoSkillPayload,
    answer=answer,
    response_model=SkillResponse,
    query={"token": "The integration's token, if not in a header."},
)

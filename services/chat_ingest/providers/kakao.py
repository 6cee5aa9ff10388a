"""Kakao i Open Builder skill: the HTTP answer is the bot's reply, within 5 s.

No signature exists: the skill URL carries our token (``?token=``) or, where
custom headers can be set, ``X-Omnidesk-Token``. No per-message id exists
either: the event id is derived from the user id, a hash of the utterance
and a time bucket (``kakao_dedupe_window_s``), so a retry within the window is
one event — and the same text sent twice within it is one event too.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from libs.common.events import CustomerIdentity
from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    BadSignature,
    error_responses,
    parse_json_object,
    request_body,
    validate_payload,
    verify_shared_token,
)
from services.chat_ingest.ingest import json_response
from services.chat_ingest.integrations import Integration, Provider
from services.chat_ingest.normalise import (
    ChatEvent,
    IngestContext,
    chat_interaction,
    event_id,
    handle,
)
from services.chat_ingest.runtime import RuntimeDep, normalised

PROVIDER = Provider.KAKAO.value


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class KakaoUser(_Lenient):
    id: str = Field(..., min_length=1, description="botUserKey")
    type: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)


class KakaoUserRequest(_Lenient):
    utterance: str = ""
    lang: str | None = None
    timezone: str | None = None
    user: KakaoUser
    callbackUrl: str | None = None


class KakaoBot(_Lenient):
    id: str | None = None
    name: str | None = None


class KakaoSkillPayload(_Lenient):
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
    """Kakao skill response v2.0 with one simpleText output."""

    version: Literal["2.0"] = "2.0"
    template: SkillTemplate


def verify(integration: Integration, token: str | None) -> None:
    if not verify_shared_token(integration.secret_value(), token):
        raise BadSignature(
            "X-Omnidesk-Token header or token query parameter missing or wrong",
            provider=PROVIDER,
            integration=integration.id,
        )


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
    )
    return ChatEvent(event_id(PROVIDER, context, message_id), interaction)


def acknowledgement(request: KakaoUserRequest, *, text_ko: str, text_en: str) -> SkillResponse:
    lang = locale(request) or "ko"
    text = text_ko if lang.startswith("ko") else text_en
    return SkillResponse(
        template=SkillTemplate(outputs=[SimpleTextOutput(simpleText=SimpleText(text=text))])
    )


router = APIRouter(tags=["kakao"])


@router.post(
    "/webhooks/kakao/{integration_id}",
    summary="Kakao i Open Builder skill (answers with the acknowledgement text)",
    response_model=SkillResponse,
    responses=error_responses(*WEBHOOK_ERROR_CODES),
    openapi_extra=request_body({"application/json": KakaoSkillPayload}),
)
async def receive_kakao(
    integration_id: str,
    request: Request,
    runtime: RuntimeDep,
    token: str | None = Query(None, description="The integration's token, if not in a header."),
) -> Response:
    integration = runtime.integration(request, Provider.KAKAO, integration_id)
    verify(integration, request.headers.get("x-omnidesk-token") or token)
    body = await runtime.body(request)
    async with runtime.keeping_unreadable(request, integration, body):
        payload = validate_payload(KakaoSkillPayload, parse_json_object(body))
        settings = runtime.settings
        window = settings.kakao_dedupe_window_s
        event = normalised(normalise, payload, runtime.context(integration), window_s=window)
    await runtime.require_ingest().accept(PROVIDER, [event])
    answer = acknowledgement(
        payload.userRequest, text_ko=settings.kakao_ack_text_ko, text_en=settings.kakao_ack_text_en
    )
    return json_response(answer)

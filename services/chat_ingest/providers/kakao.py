"""The kakao webhook route (parsing and verification: libs/providers/kakao)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

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
from libs.providers.kakao.inbound import (
    PROVIDER,
    KakaoSkillPayload,
    SkillResponse,
    acknowledgement,
    normalise,
    verify,
)
from services.chat_ingest.ingest import json_response
from services.chat_ingest.runtime import RuntimeDep

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

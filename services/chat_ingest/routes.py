"""The webhook routes, built from the provider table — one generic handler for all.

read body → verify → parse (unreadable but authenticated: kept on the
dead-letter topic, 400) → publish and wait for the Kafka ack → answer what
the provider expects. Each provider contributes only its
:class:`~libs.providers.webhooks.InboundSpec`; WhatsApp's GET subscription
handshake is the one extra route.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.datastructures import QueryParams

from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    MalformedPayload,
    error_responses,
    request_body,
    require_content_type,
)
from libs.common.webhooks.answers import json_response
from libs.providers.inbound import normalised
from libs.providers.integrations import Provider, webhook_path
from libs.providers.registry import PROVIDERS
from libs.providers.webhooks import Answer, InboundSpec, webhook_input
from libs.providers.whatsapp.inbound import subscription_challenge
from services.chat_ingest.state import ChatIngestState, ChatIngestStateDep

#: What a URL without a query string gives (immutable, shared): parsing the empty
#: query into a new QueryParams per request was ~4 % of a web-chat POST in the app
#: (cProfile); only Kakao and Channel Talk read the query (a token), when there is one.
NO_QUERY = QueryParams("")


async def receive(
    spec: InboundSpec, integration_id: str, request: Request, runtime: ChatIngestState
) -> Response:
    integration = runtime.integration(request, spec.provider, integration_id)
    if spec.content_type != "application/json":
        require_content_type(request, spec.content_type)
    body = await runtime.body(request)
    webhook = webhook_input(
        body,
        request.headers,
        request.query_params if request.scope.get("query_string") else NO_QUERY,
        # only Twilio signs the URL; building it for the others cost ~4 % of the app's CPU
        runtime.public_url(request) if spec.needs_public_url else "",
        runtime.clock(),
    )
    spec.verify(integration, webhook, runtime.options)
    try:
        context = runtime.context(integration, webhook.received_at)
        parsed = normalised(spec.parse, webhook, context, runtime.options)
    except MalformedPayload as exc:  # authenticated but unreadable: kept, then the 400
        await runtime.keep_unreadable(request, integration, body, exc)
        raise
    if parsed.handshake is not None:
        return respond(parsed.handshake)
    ingest = runtime.require_ingest()
    events = await runtime.resolve_media(integration, parsed.events)
    ack = await ingest.accept(spec.provider.value, events, ignored=parsed.ignored)
    return respond(spec.answer(parsed, ack, integration, runtime.options))


def respond(answer: Answer) -> Response:
    if isinstance(answer.body, str):
        return Response(answer.body, status_code=answer.status_code, media_type=answer.media_type)
    return json_response(answer.body, answer.status_code, exclude_none=answer.exclude_none)


def provider_router() -> APIRouter:
    router = APIRouter()
    for spec in PROVIDERS.values():
        _add_webhook_route(router, spec.inbound)
    _add_whatsapp_handshake(router)
    return router


def _add_webhook_route(router: APIRouter, spec: InboundSpec) -> None:
    async def endpoint(
        integration_id: str, request: Request, runtime: ChatIngestStateDep
    ) -> Response:
        return await receive(spec, integration_id, request, runtime)

    provider = spec.provider.value
    extra: dict[str, Any] = request_body({spec.content_type: spec.payload_model})
    if spec.query:
        extra["parameters"] = [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, text in spec.query.items()
        ]
    responses: dict[int | str, dict[str, Any]] = dict(error_responses(*WEBHOOK_ERROR_CODES))
    if spec.response_model is None:  # a non-JSON answer (Twilio: TwiML)
        responses[spec.success_status] = {
            "content": {"application/xml": {"schema": {"type": "string"}}},
            "description": "TwiML",
        }
        responses.update(error_responses(415))
    router.add_api_route(
        webhook_path(spec.provider, "{integration_id}"),
        endpoint,
        methods=["POST"],
        name=f"receive_{provider}",
        operation_id=f"receive_{provider}",
        summary=spec.summary,
        tags=[provider],
        status_code=spec.success_status,
        response_model=spec.response_model,
        response_model_exclude_none=True,
        response_class=Response if spec.response_model is None else JSONResponse,
        responses=responses,
        openapi_extra=extra,
    )


def _add_whatsapp_handshake(router: APIRouter) -> None:
    @router.get(
        webhook_path(Provider.WHATSAPP, "{integration_id}"),
        summary="WhatsApp subscription handshake (echoes hub.challenge)",
        tags=[Provider.WHATSAPP.value],
        response_class=PlainTextResponse,
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "Challenge",
            },
            **error_responses(400, 401, 404),
        },
    )
    async def verify_whatsapp_subscription(
        integration_id: str,
        request: Request,
        runtime: ChatIngestStateDep,
        mode: str = Query(..., alias="hub.mode"),
        verify_token: str = Query(..., alias="hub.verify_token"),
        challenge: str = Query(..., alias="hub.challenge", max_length=1000),
    ) -> PlainTextResponse:
        integration = runtime.integration(request, Provider.WHATSAPP, integration_id)
        answer = subscription_challenge(
            integration, mode=mode, verify_token=verify_token, challenge=challenge
        )
        return PlainTextResponse(answer)

"""Webhook routes, one per provider callback. Each: find the integration (404),
authenticate (401), read the bounded body (413), parse (400), publish and
answer only after Kafka acknowledged (503 otherwise)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from libs.common.events import InteractionKind
from libs.common.webhooks import (
    WEBHOOK_ERROR_CODES,
    BadSignature,
    BusUnavailable,
    MalformedPayload,
    Publisher,
    error_responses,
    parse_form,
    parse_json_object,
    public_url,
    read_body,
    request_body,
    verify_basic_auth,
    verify_shared_token,
    verify_twilio,
)
from libs.common.webhooks.answers import json_response
from libs.common.webhooks.errors import label_provider
from services.phone_log.calls import CallFacts, EventContext, PayloadError
from services.phone_log.intake import (
    asterisk_line,
    event_for,
    freeswitch_line,
    ignored,
    publish_call,
)
from services.phone_log.integrations import (
    AsteriskIntegration,
    CtiIntegration,
    FreeswitchIntegration,
    Integration,
    IntegrationBase,
    TwilioIntegration,
)
from services.phone_log.providers import asterisk, cti, freeswitch, twilio
from services.phone_log.quarantine import quarantine
from services.phone_log.schemas import (
    AsteriskCdr,
    CtiEvent,
    FreeswitchCdr,
    FreeswitchEncodedCdr,
    Receipt,
    TwilioRecordingCallback,
    TwilioStatusCallback,
)
from services.phone_log.state import PhoneLogState, get_runtime

RuntimeDep = Annotated[PhoneLogState, Depends(get_runtime)]
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
TOKEN_HEADER = "X-Omnidesk-Token"  # noqa: S105 - a header name, not a secret
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="omnidesk phone_log"'}


def _integration(
    request: Request, runtime: PhoneLogState, provider: str, integration_id: str
) -> Integration:
    """Label the request with its provider (rejection metrics and WebhookTimingMiddleware's
    latency), then look the integration up (404). Done in the endpoint, not as a route
    dependency, so the webhook fast path can dispatch the route."""
    label_provider(request, provider)
    return runtime.integration(provider, integration_id)


def _route(
    provider: str,
    summary: str,
    bodies: dict[str, Any],
    *,
    xml_reply: str | None = None,
    headers: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    responses = error_responses(*WEBHOOK_ERROR_CODES)
    if xml_reply:
        responses[200] = {
            "description": f"Kafka acknowledged the event. {xml_reply}",
            "content": {"application/xml": {"schema": {"type": "string"}}},
        }
    extra = request_body(bodies)
    if headers:
        extra["parameters"] = [_header_parameter(n, text) for n, text in headers.items()]
    return {
        "response_model": Receipt,
        "summary": summary,
        "tags": [provider],
        "responses": responses,
        "openapi_extra": extra,
    }


def _header_parameter(name: str, description: str | None) -> dict[str, Any]:
    """An optional header, documented as FastAPI's ``Header()`` would document it.

    Endpoints read their headers from the request instead of declaring ``Header()``
    parameters: that keeps them dispatchable by the webhook fast path
    (:mod:`libs.common.webhooks.fastpath`), which skips FastAPI's dependency solving.
    """
    schema: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "null"}], "title": name}
    parameter: dict[str, Any] = {"name": name.lower(), "in": "header", "required": False}
    if description:
        schema["description"] = description
        parameter["description"] = description
    return {**parameter, "schema": schema}


def form_fields(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for key, value in pairs:
        fields.setdefault(key, []).append(value)
    return fields


def _context(runtime: PhoneLogState, integration: IntegrationBase) -> EventContext:
    return runtime.event_context(integration, datetime.now(UTC))


def _publisher(runtime: PhoneLogState, provider: str) -> Publisher:
    if runtime.publisher is None:
        raise BusUnavailable(
            "not connected to Kafka yet",
            retry_after_s=runtime.settings.retry_after_s,
            provider=provider,
        )
    return runtime.publisher


async def _body(request: Request, runtime: PhoneLogState) -> bytes:
    return await read_body(request, limit=runtime.settings.max_body_bytes)


def form_or_json(body: bytes, content_type: str | None) -> dict[str, Any]:
    """Dialplan CURL() and CTI systems post a form or JSON; decide by the bytes."""
    if (content_type or "").lower().startswith(JSON) or body.lstrip()[:1] == b"{":
        return parse_json_object(body)
    return form_fields(parse_form(body))


def _verified_twilio_form(
    request: Request,
    runtime: PhoneLogState,
    integration: TwilioIntegration,
    body: bytes,
) -> dict[str, list[str]]:
    signature = request.headers.get(TWILIO_SIGNATURE_HEADER)
    pairs = parse_form(body)
    url = public_url(
        request,
        trust_forwarded=runtime.settings.trust_forwarded_headers,
        base_url=integration.public_base_url or runtime.settings.public_base_url,
    )
    if not verify_twilio(integration.auth_token.get_secret_value(), url, pairs, signature):
        raise BadSignature(
            "X-Twilio-Signature does not match", provider="twilio", integration=integration.id
        )
    return form_fields(pairs)


def _hints(**values: str | None) -> dict[str, list[str]]:
    return {name: [value] for name, value in values.items() if value}


def _twilio(request: Request, runtime: PhoneLogState, integration_id: str) -> TwilioIntegration:
    integration = _integration(request, runtime, "twilio", integration_id)
    assert isinstance(integration, TwilioIntegration)
    return integration


async def _ingest(
    request: Request,
    runtime: PhoneLogState,
    integration: IntegrationBase,
    body: bytes,
    parse: Callable[[], CallFacts | None],
) -> Receipt:
    """Parse an authenticated body and publish it; what cannot be read is dead-lettered."""
    provider = integration.provider
    try:
        facts = parse()
        event = None if facts is None else event_for(facts, _context(runtime, integration))
    except (PayloadError, MalformedPayload) as exc:
        detail = exc.detail if isinstance(exc, MalformedPayload) else str(exc)
        await _keep_unreadable(request, runtime, provider, integration.id, body, detail)
        raise MalformedPayload(detail, provider=provider, integration=integration.id) from None
    if event is None:
        return ignored(provider, None, "nothing to publish (recording not completed)")
    return await publish_call(event, publisher=_publisher(runtime, provider), events=runtime.events)


def _answer(receipt: Receipt) -> Response:
    """Serialised once here: routes keep ``response_model`` for OpenAPI, and FastAPI
    does not validate the answer a second time. ``json_response``: pydantic-core's bytes
    and Starlette's two headers without ``Response.__init__`` (the same answer; with the
    receipt's own construction 40.2 → 23.2 K instructions a callback, callgrind)."""
    return json_response(receipt)


async def _keep_unreadable(
    request: Request,
    runtime: PhoneLogState,
    provider: str,
    integration_id: str,
    body: bytes,
    error: str,
) -> None:
    if runtime.sender is None:
        raise BusUnavailable(
            "not connected to Kafka yet",
            retry_after_s=runtime.settings.retry_after_s,
            provider=provider,
        )
    await quarantine(
        runtime.sender,
        topic=runtime.settings.kafka.topics.deadletter,
        body=body,
        provider=provider,
        integration_id=integration_id,
        error=error,
        content_type=request.headers.get("content-type"),
        retry_after_s=runtime.settings.retry_after_s,
    )


async def receive_twilio_status(
    request: Request, integration_id: str, runtime: RuntimeDep
) -> Response:
    """Twilio Voice status callback: ringing, in-progress, completed, busy, no-answer, …"""
    integration = _twilio(request, runtime, integration_id)
    body = await _body(request, runtime)
    fields = _verified_twilio_form(request, runtime, integration, body)
    return _answer(
        await _ingest(
            request, runtime, integration, body, lambda: twilio.parse_status_callback(fields)
        )
    )


async def receive_twilio_recording(
    request: Request,
    integration_id: str,
    runtime: RuntimeDep,
    caller: Annotated[
        str | None, Query(alias="From", description="Optional: the caller, set in the URL.")
    ] = None,
    callee: Annotated[
        str | None, Query(alias="To", description="Optional: the number called.")
    ] = None,
    direction: Annotated[
        str | None, Query(alias="Direction", description="Optional: inbound, outbound-api, …")
    ] = None,
) -> Response:
    """Twilio recording callback: a voicemail (<Record>) or a call recording.

    A recordingStatusCallback carries no numbers; a TwiML app that knows them may
    put ``?From=…&To=…`` in the callback URL (Twilio signs the URL, query included).
    """
    integration = _twilio(request, runtime, integration_id)
    body = await _body(request, runtime)
    signed = _verified_twilio_form(request, runtime, integration, body)
    fields = {**_hints(From=caller, To=callee, Direction=direction), **signed}
    return _answer(
        await _ingest(
            request, runtime, integration, body, lambda: twilio.parse_recording_callback(fields)
        )
    )


async def receive_asterisk_cdr(
    request: Request, integration_id: str, runtime: RuntimeDep
) -> Response:
    """An Asterisk CDR posted by the dialplan (CURL() in a hangup handler)."""
    integration = _integration(request, runtime, "asterisk", integration_id)
    assert isinstance(integration, AsteriskIntegration)
    token = request.headers.get(TOKEN_HEADER)
    if not verify_shared_token(integration.token.get_secret_value(), token):
        raise BadSignature(
            f"{TOKEN_HEADER} missing or wrong", provider="asterisk", integration=integration.id
        )
    body = await _body(request, runtime)
    line = asterisk_line(integration, runtime.settings)
    content_type = request.headers.get("content-type")
    return _answer(
        await _ingest(
            request,
            runtime,
            integration,
            body,
            lambda: asterisk.parse_cdr(form_or_json(body, content_type), line),
        )
    )


async def receive_freeswitch_cdr(
    request: Request,
    integration_id: str,
    runtime: RuntimeDep,
    uuid: Annotated[str | None, Query(description="Added by mod_json_cdr.")] = None,
) -> Response:
    """A FreeSWITCH mod_json_cdr post, in any of its encode modes."""
    integration = _integration(request, runtime, "freeswitch", integration_id)
    assert isinstance(integration, FreeswitchIntegration)
    authorization = request.headers.get("authorization")
    password = integration.password.get_secret_value()
    if not verify_basic_auth(authorization, username=integration.username, password=password):
        raise BadSignature(
            "HTTP basic credentials missing or wrong",
            provider="freeswitch",
            integration=integration.id,
            headers=BASIC_CHALLENGE,
        )
    body = await _body(request, runtime)
    line = freeswitch_line(integration)
    content_type = request.headers.get("content-type")
    return _answer(
        await _ingest(
            request,
            runtime,
            integration,
            body,
            lambda: freeswitch.parse_cdr(
                freeswitch.decode_body(body, content_type), line, uuid_param=uuid
            ),
        )
    )


async def receive_cti_event(
    request: Request, integration_id: str, token: str, runtime: RuntimeDep
) -> Response:
    """A CTI call event: newCall, answer or hangup."""
    integration = _integration(request, runtime, "cti", integration_id)
    assert isinstance(integration, CtiIntegration)
    if not verify_shared_token(integration.token.get_secret_value(), token):
        raise BadSignature("path token is wrong", provider="cti", integration=integration.id)
    body = await _body(request, runtime)
    content_type = request.headers.get("content-type")
    receipt = await _ingest(
        request,
        runtime,
        integration,
        body,
        lambda: cti.parse_event(form_or_json(body, content_type), integration_id=integration.id),
    )
    if integration.subscribe_in_reply and receipt.kind is InteractionKind.CALL_STARTED:
        return _subscription(request, runtime)
    return _answer(receipt)


def _subscription(request: Request, runtime: PhoneLogState) -> Response:
    """sipgate.io sends answer/hangup only to URLs named in the reply to newCall."""
    url = escape(
        public_url(
            request,
            trust_forwarded=runtime.settings.trust_forwarded_headers,
            base_url=runtime.settings.public_base_url,
        ),
        quote=True,
    )
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<Response onAnswer="{url}" onHangup="{url}"/>\n'
    return Response(xml, media_type="application/xml")


def webhook_router() -> APIRouter:
    router = APIRouter()
    router.add_api_route(
        "/twilio/{integration_id}/voice/status",
        receive_twilio_status,
        methods=["POST"],
        **_route(
            "twilio",
            "Twilio Voice status callback",
            {FORM: TwilioStatusCallback},
            headers={TWILIO_SIGNATURE_HEADER: None},
        ),
    )
    router.add_api_route(
        "/twilio/{integration_id}/voice/recording",
        receive_twilio_recording,
        methods=["POST"],
        **_route(
            "twilio",
            "Twilio recording callback",
            {FORM: TwilioRecordingCallback},
            headers={TWILIO_SIGNATURE_HEADER: None},
        ),
    )
    router.add_api_route(
        "/asterisk/{integration_id}/cdr",
        receive_asterisk_cdr,
        methods=["POST"],
        **_route(
            "asterisk",
            "Asterisk CDR",
            {FORM: AsteriskCdr, JSON: AsteriskCdr},
            headers={TOKEN_HEADER: "The integration's shared token."},
        ),
    )
    router.add_api_route(
        "/freeswitch/{integration_id}/cdr",
        receive_freeswitch_cdr,
        methods=["POST"],
        **_route(
            "freeswitch",
            "FreeSWITCH mod_json_cdr",
            {
                JSON: FreeswitchCdr,
                FORM: FreeswitchEncodedCdr,
                freeswitch.BASE64_CONTENT_TYPE: FreeswitchEncodedCdr,
            },
            headers={"Authorization": "HTTP basic credentials."},
        ),
    )
    router.add_api_route(
        "/cti/{integration_id}/{token}",
        receive_cti_event,
        methods=["POST"],
        **_route(
            "cti",
            "Generic CTI event",
            {FORM: CtiEvent, JSON: CtiEvent},
            xml_reply="With subscribe_in_reply, newCall is answered with "
            '<Response onAnswer="…" onHangup="…"/> (sipgate.io).',
        ),
    )
    return router

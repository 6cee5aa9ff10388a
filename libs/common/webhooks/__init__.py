"""Webhook machinery shared by chat_ingest and phone_log.

- :mod:`.signatures` — provider signature checks (constant-time).
- :mod:`.body` — bounded raw-body reader (413) and parsers (400 on bad input).
- :mod:`.public_url` — the public URL behind a trusted proxy (Twilio signs it).
- :mod:`.errors` — JSON error model, exceptions and FastAPI handlers.
- :mod:`.publish` — publish-then-ack with 503 + ``Retry-After`` on bus failure.
- :mod:`.metrics` — rejection/outcome counters labelled by provider and reason.
- :mod:`.openapi` — documenting raw-body routes.
- :mod:`.answers` — JSON answers serialised once (no second validation by FastAPI).
- :mod:`.timing` — request latency histogram by provider (ASGI middleware).
- :mod:`.producer` — EventProducer with batches sized for many concurrent acks.
- :mod:`.fastpath` — webhook POSTs dispatched straight to their endpoint functions, in
  front of the app's middleware stack.
- :mod:`.one_write` — uvicorn protocol writing each response in one socket write.
- :mod:`.eventlog` — accepted events: an INFO summary per minute, each one at DEBUG.
- :mod:`.quarantine` — authenticated but unreadable bodies kept on the dead-letter topic.
- :mod:`.exceptions`, :mod:`.parsing`, :mod:`.signatures` — framework-free parts that
  provider packages (``libs/providers``) import.
- :mod:`.readiness` — the "no integrations configured" readiness check.

Names are loaded lazily (PEP 562): importing a framework-free submodule such
as ``libs.common.webhooks.signatures`` does not import FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name → the submodule defining it.
_MODULES: dict[str, str] = {
    "BadSignature": "libs.common.webhooks.exceptions",
    "BusUnavailable": "libs.common.webhooks.exceptions",
    "ErrorBody": "libs.common.webhooks.errors",
    "EventPublisher": "libs.common.webhooks.publish",
    "MalformedPayload": "libs.common.webhooks.exceptions",
    "PROVIDER_STATE": "libs.common.webhooks.errors",
    "PayloadTooLarge": "libs.common.webhooks.exceptions",
    "Publisher": "libs.common.webhooks.publish",
    "Quarantine": "libs.common.webhooks.quarantine",
    "RecentlyAcked": "libs.common.webhooks.publish",
    "UnknownIntegration": "libs.common.webhooks.exceptions",
    "UnsupportedMediaType": "libs.common.webhooks.exceptions",
    "WEBHOOK_ERROR_CODES": "libs.common.webhooks.errors",
    "WebhookError": "libs.common.webhooks.exceptions",
    "WebhookFront": "libs.common.webhooks.fastpath",
    "WebhookTimingMiddleware": "libs.common.webhooks.timing",
    "constant_time_equals": "libs.common.webhooks.signatures",
    "document_400_not_422": "libs.common.webhooks.openapi",
    "error_responses": "libs.common.webhooks.errors",
    "fast_routes": "libs.common.webhooks.fastpath",
    "install_fast_path": "libs.common.webhooks.fastpath",
    "hmac_sha256_base64": "libs.common.webhooks.signatures",
    "hmac_sha256_hex": "libs.common.webhooks.signatures",
    "install_error_handlers": "libs.common.webhooks.errors",
    "parse_form": "libs.common.webhooks.parsing",
    "parse_json": "libs.common.webhooks.parsing",
    "parse_json_object": "libs.common.webhooks.parsing",
    "public_url": "libs.common.webhooks.public_url",
    "read_body": "libs.common.webhooks.body",
    "reject": "libs.common.webhooks.errors",
    "request_body": "libs.common.webhooks.openapi",
    "require_content_type": "libs.common.webhooks.body",
    "slack_signature": "libs.common.webhooks.signatures",
    "twilio_signature": "libs.common.webhooks.signatures",
    "validate_payload": "libs.common.webhooks.parsing",
    "verify_basic_auth": "libs.common.webhooks.signatures",
    "verify_hmac_sha256": "libs.common.webhooks.signatures",
    "verify_shared_token": "libs.common.webhooks.signatures",
    "verify_slack": "libs.common.webhooks.signatures",
    "verify_twilio": "libs.common.webhooks.signatures",
    "verify_twilio_json": "libs.common.webhooks.signatures",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from libs.common.webhooks.body import (
        parse_form,
        parse_json,
        parse_json_object,
        read_body,
        require_content_type,
        validate_payload,
    )
    from libs.common.webhooks.errors import (
        PROVIDER_STATE,
        WEBHOOK_ERROR_CODES,
        BadSignature,
        BusUnavailable,
        ErrorBody,
        MalformedPayload,
        PayloadTooLarge,
        UnknownIntegration,
        UnsupportedMediaType,
        WebhookError,
        error_responses,
        install_error_handlers,
        reject,
    )
    from libs.common.webhooks.fastpath import WebhookFront, fast_routes, install_fast_path
    from libs.common.webhooks.openapi import document_400_not_422, request_body
    from libs.common.webhooks.public_url import public_url
    from libs.common.webhooks.publish import EventPublisher, Publisher, RecentlyAcked
    from libs.common.webhooks.quarantine import Quarantine
    from libs.common.webhooks.signatures import (
        constant_time_equals,
        hmac_sha256_base64,
        hmac_sha256_hex,
        slack_signature,
        twilio_signature,
        verify_basic_auth,
        verify_hmac_sha256,
        verify_shared_token,
        verify_slack,
        verify_twilio,
        verify_twilio_json,
    )
    from libs.common.webhooks.timing import WebhookTimingMiddleware

__all__ = [
    "PROVIDER_STATE",
    "WEBHOOK_ERROR_CODES",
    "BadSignature",
    "BusUnavailable",
    "ErrorBody",
    "EventPublisher",
    "MalformedPayload",
    "PayloadTooLarge",
    "Publisher",
    "Quarantine",
    "RecentlyAcked",
    "UnknownIntegration",
    "UnsupportedMediaType",
    "WebhookError",
    "WebhookFront",
    "WebhookTimingMiddleware",
    "constant_time_equals",
    "document_400_not_422",
    "error_responses",
    "fast_routes",
    "hmac_sha256_base64",
    "hmac_sha256_hex",
    "install_error_handlers",
    "install_fast_path",
    "parse_form",
    "parse_json",
    "parse_json_object",
    "public_url",
    "read_body",
    "reject",
    "request_body",
    "require_content_type",
    "slack_signature",
    "twilio_signature",
    "validate_payload",
    "verify_basic_auth",
    "verify_hmac_sha256",
    "verify_shared_token",
    "verify_slack",
    "verify_twilio",
    "verify_twilio_json",
]

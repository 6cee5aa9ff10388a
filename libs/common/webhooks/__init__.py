"""Webhook machinery shared by chat_ingest and phone_log.

- :mod:`.signatures` — provider signature checks (constant-time).
- :mod:`.body` — bounded raw-body reader (413) and parsers (400 on bad input).
- :mod:`.public_url` — the public URL behind a trusted proxy (Twilio signs it).
- :mod:`.errors` — JSON error model, exceptions and FastAPI handlers.
- :mod:`.publish` — publish-then-ack with 503 + ``Retry-After`` on bus failure.
- :mod:`.metrics` — rejection/outcome counters labelled by provider and reason.
- :mod:`.openapi` — documenting raw-body routes.
- :mod:`.timing` — request latency histogram by provider (ASGI middleware).
- :mod:`.producer` — EventProducer with batches sized for many concurrent acks.
- :mod:`.fastpath` — webhook POSTs dispatched straight to their endpoint functions.
- :mod:`.quarantine` — authenticated but unreadable bodies kept on the dead-letter topic.
"""

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
from libs.common.webhooks.fastpath import WebhookFastPath, fast_routes
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
    "WebhookFastPath",
    "WebhookTimingMiddleware",
    "constant_time_equals",
    "document_400_not_422",
    "error_responses",
    "fast_routes",
    "hmac_sha256_base64",
    "hmac_sha256_hex",
    "install_error_handlers",
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

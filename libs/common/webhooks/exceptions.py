"""The webhook exceptions, without a web framework (provider packages raise them).

Each carries its HTTP status and a machine-readable reason;
:mod:`libs.common.webhooks.errors` turns them into JSON answers.
"""

from __future__ import annotations

from typing import Any


class WebhookError(Exception):
    status_code = 400
    reason = "bad_request"

    def __init__(
        self,
        detail: str,
        *,
        reason: str | None = None,
        provider: str | None = None,
        integration: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reason = reason or self.reason
        self.provider = provider
        self.integration = integration
        self.headers = headers or {}


class MalformedPayload(WebhookError):
    status_code = 400
    reason = "malformed"


class BadSignature(WebhookError):
    status_code = 401
    reason = "bad_signature"


class UnknownIntegration(WebhookError):
    status_code = 404
    reason = "unknown_integration"


class PayloadTooLarge(WebhookError):
    status_code = 413
    reason = "too_large"


class UnsupportedMediaType(WebhookError):
    status_code = 415
    reason = "unsupported_media_type"


class BusUnavailable(WebhookError):
    """Kafka did not acknowledge in time: the provider must retry later."""

    status_code = 503
    reason = "bus_unavailable"

    def __init__(self, detail: str, *, retry_after_s: int, **kwargs: Any) -> None:
        headers = {"Retry-After": str(max(1, int(retry_after_s)))}
        super().__init__(detail, headers=headers, **kwargs)

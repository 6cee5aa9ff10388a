"""The JSON error model and exception handlers of webhook apps.

Input problems never become a 500: malformed → 400, bad signature → 401,
unknown integration → 404, oversize → 413, bus down → 503 with ``Retry-After``.
Every rejection is counted by provider and reason, and logged without secrets
or message text (only the reason, the provider, the integration and the path).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.common.webhooks.exceptions import (
    BadSignature,
    BusUnavailable,
    MalformedPayload,
    PayloadTooLarge,
    UnknownIntegration,
    UnsupportedMediaType,
    WebhookError,
)
from libs.common.webhooks.metrics import WEBHOOK_REJECTIONS

__all__ = [
    "PROVIDER_STATE",
    "WEBHOOK_ERROR_CODES",
    "BadSignature",
    "BusUnavailable",
    "ErrorBody",
    "MalformedPayload",
    "PayloadTooLarge",
    "UnknownIntegration",
    "UnsupportedMediaType",
    "WebhookError",
    "error_responses",
    "install_error_handlers",
    "label_provider",
    "reject",
]

log = logging.getLogger(__name__)

#: ``request.state`` attribute a route sets so rejections are labelled by provider.
PROVIDER_STATE = "webhook_provider"


class ErrorBody(BaseModel):
    """What every refused webhook request gets back."""

    error: str = Field(..., description="Machine-readable reason, e.g. bad_signature.")
    detail: str = Field(..., description="What was wrong, for a human. Never echoes secrets.")
    provider: str | None = None
    integration: str | None = None


def label_provider(request: Request, provider: str) -> None:
    """``setattr(request.state, PROVIDER_STATE, provider)`` on the dict behind it: the
    same entry (``request.state`` wraps ``scope["state"]``) without building a State
    object and its ``__setattr__`` per request."""
    request.scope.setdefault("state", {})[PROVIDER_STATE] = provider


def _provider_of(request: Request, exc: WebhookError | None = None) -> str:
    if exc is not None and exc.provider:
        return exc.provider
    return getattr(request.state, PROVIDER_STATE, None) or "unknown"


def reject(request: Request, exc: WebhookError) -> JSONResponse:
    """Count, log and answer one refused request."""
    provider = _provider_of(request, exc)
    WEBHOOK_REJECTIONS.labels(provider, exc.reason).inc()
    log.warning(
        "webhook rejected: %s",
        exc.reason,
        extra={
            "provider": provider,
            "integration": exc.integration,
            "reason": exc.reason,
            "status": exc.status_code,
            "path_template": _route_template(request),
        },
    )
    body = ErrorBody(
        error=exc.reason, detail=exc.detail, provider=provider, integration=exc.integration
    )
    return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)


def _route_template(request: Request) -> str:
    # The template, not the URL: the URL may carry a token in its path or query.
    route = request.scope.get("route")
    return getattr(route, "path", "?")


async def _on_webhook_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WebhookError)
    return reject(request, exc)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
        for err in exc.errors()[:5]
    )
    return reject(request, MalformedPayload(problems or "invalid request"))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    reasons = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    reason = reasons.get(exc.status_code, f"http_{exc.status_code}")
    error = WebhookError(str(exc.detail), reason=reason, headers=dict(exc.headers or {}))
    error.status_code = exc.status_code
    return reject(request, error)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not bad input: logged with its traceback (never the body), counted, JSON answer.
    provider = _provider_of(request)
    WEBHOOK_REJECTIONS.labels(provider, "internal_error").inc()
    log.error(
        "webhook handler failed: %s",
        type(exc).__name__,
        exc_info=exc,
        extra={"provider": provider, "path_template": _route_template(request)},
    )
    body = ErrorBody(error="internal_error", detail="unexpected error; retry later")
    return JSONResponse(body.model_dump(), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(WebhookError, _on_webhook_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the JSON error model for each code."""
    descriptions = {
        400: "Malformed body or parameters",
        401: "Missing or wrong signature/token",
        404: "Unknown integration",
        413: "Body larger than the limit",
        415: "Unsupported content type",
        503: "Kafka did not acknowledge; retry after Retry-After seconds",
    }
    responses: dict[int | str, dict[str, Any]] = {}
    for code in status_codes:
        entry: dict[str, Any] = {"model": ErrorBody, "description": descriptions.get(code, "")}
        if code == 503:
            entry["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
        responses[code] = entry
    return responses


#: Every webhook route can answer these.
WEBHOOK_ERROR_CODES = (400, 401, 404, 413, 503)

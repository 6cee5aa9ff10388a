"""What every provider's outbound side shares: outcome helpers and the thin httpx sender.

A provider package supplies three pure functions — ``check`` (refuse what can
never be sent), ``build_request`` (message → :class:`HttpRequest`) and
``classify`` (HTTP answer → :class:`SendOutcome`) — and :class:`HttpSender`
performs the request. Transport failures (timeouts, refused connections)
become ``retry``: the request may or may not have reached the provider, and
only LINE offers an idempotency key to make a resend harmless.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from libs.common.events.base import utc_now
from libs.providers.integrations import Integration
from libs.providers.outbound import (
    HttpRequest,
    OutboundMessage,
    SendOutcome,
    SendVerdict,
    Unsendable,
)

Clock = Callable[[], datetime]
Builder = Callable[..., HttpRequest]
Classifier = Callable[[int, Any, Mapping[str, str]], SendOutcome]
Checker = Callable[[OutboundMessage, Integration, datetime], None]

#: Retry hint when a provider says "later" without saying when.
DEFAULT_RETRY_AFTER_S = 5.0


def accepted(provider_message_id: str | None, status: int) -> SendOutcome:
    return SendOutcome(
        verdict=SendVerdict.ACCEPTED, provider_message_id=provider_message_id, http_status=status
    )


def retry(
    status: int | None, *, after_s: float | None, code: str, detail: str | None = None
) -> SendOutcome:
    return SendOutcome(
        verdict=SendVerdict.RETRY,
        retry_after_s=after_s if after_s is not None else DEFAULT_RETRY_AFTER_S,
        error_code=code,
        error_detail=detail,
        http_status=status,
    )


def permanent(status: int | None, *, code: str, detail: str | None = None) -> SendOutcome:
    return SendOutcome(
        verdict=SendVerdict.PERMANENT, error_code=code, error_detail=detail, http_status=status
    )


def retry_after_s(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), None when absent/garbled."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    # delta-seconds is ASCII digits (RFC 9110 §10.2.3); str.isdigit() also takes "¹" or
    # "٣", which float() refuses
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - (now or utc_now())).total_seconds())


def transient(status: int, headers: Mapping[str, str], detail: str | None) -> SendOutcome | None:
    """The answers every provider shares: 429 → retry after its hint; 5xx → retry."""
    if status == 429:
        return retry(status, after_s=retry_after_s(headers), code="rate_limited", detail=detail)
    if status >= 500:
        return retry(
            status, after_s=retry_after_s(headers), code="provider_unavailable", detail=detail
        )
    return None


def check_text(message: OutboundMessage, *, provider: str, max_chars: int) -> None:
    if not message.text.strip():
        raise Unsendable("empty_text", "the message has no text", provider=provider)
    if len(message.text) > max_chars:
        raise Unsendable(
            "too_long",
            f"{len(message.text)} characters; {provider} accepts at most {max_chars}",
            provider=provider,
            limit=max_chars,
        )


def parse_body(response: httpx.Response) -> Any:
    """JSON when the body is JSON, else the text (classifiers handle both)."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text


def base_url(integration: Integration, default: str) -> str:
    return (integration.outbound.api_base_url or default).rstrip("/")


def secret(value: Any) -> str:
    """The value of an optional SecretStr ("" when unset: the provider answers 401)."""
    return value.get_secret_value() if value is not None else ""


@dataclass
class HttpSender:
    """One integration's :class:`~libs.providers.outbound.ProviderSender` over httpx.

    The client is shared and owned by the caller (the notifier's composition
    root); only the integration's ``api_base_url`` differs between production
    and the tests' provider fixtures.
    """

    provider: str
    max_text_chars: int
    integration: Integration
    client: httpx.AsyncClient
    build: Builder
    classify: Classifier
    extra_check: Checker | None = None
    clock: Clock = field(default=utc_now)

    def check(self, message: OutboundMessage, *, now: datetime) -> None:
        check_text(message, provider=self.provider, max_chars=self.max_text_chars)
        if self.extra_check is not None:
            self.extra_check(message, self.integration, now)

    async def send(self, message: OutboundMessage) -> SendOutcome:
        now = self.clock()
        try:
            self.check(message, now=now)
        except Unsendable as exc:
            return permanent(None, code=exc.code, detail=exc.detail)
        try:
            request = self.build(message, self.integration, now=now)
        except (ValueError, TypeError) as exc:  # a reply path this provider cannot use
            return permanent(None, code="invalid_reply_path", detail=str(exc)[:300])
        return await self.perform(request)

    async def perform(self, request: HttpRequest) -> SendOutcome:
        try:
            response = await self.client.request(
                request.method,
                request.url,
                headers=request.headers,
                json=request.json_body if request.form_body is None else None,
                data=request.form_body,
                timeout=self.integration.outbound.timeout_s,
            )
        except httpx.TimeoutException as exc:
            return retry(None, after_s=None, code="timeout", detail=type(exc).__name__)
        except httpx.TransportError as exc:
            return retry(None, after_s=None, code="network", detail=type(exc).__name__)
        outcome = self.classify(response.status_code, parse_body(response), response.headers)
        if outcome.verdict is SendVerdict.ACCEPTED and outcome.accepted_at is None:
            outcome = outcome.model_copy(update={"accepted_at": self.clock()})
        return outcome


# --- reading provider answers defensively: a proxy or an outage can answer anything ---


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def first_dict(value: Any) -> dict[str, Any]:
    """The first element of a list when it is an object, else {}."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def as_text(value: Any, limit: int = 500) -> str | None:
    if value is None:
        return None
    return (value if isinstance(value, str) else str(value))[:limit]


def as_seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if 0 <= seconds < 86_400 else None

"""Channel Talk Open API outbound: a message into the customer's user chat.

References (developers.channel.io, Open API v5 — "Send a message to a
UserChat"): ``POST https://api.channel.io/open/v5/user-chats/{userChatId}/
messages`` with headers ``x-access-key`` and ``x-access-secret`` (the API
key pair of the channel), JSON ``{"blocks": [{"type": "text", "value"}]}``
(or ``plainText``), optional query ``botName``; success 200 ``{"message":
{"id", "chatId", "personType": "bot", …}}``; errors ``{"type", "status",
"errors": [{"message"}]}`` — 401 bad key pair, 404 unknown user chat, 422
invalid body, 429 rate limit with ``x-ratelimit-*`` headers.
Channel Talk publishes no text limit for a message: :data:`MAX_TEXT_CHARS`
is our own cap, not the provider's. No delivery status reaches webhooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from libs.providers.integrations import Integration, Provider
from libs.providers.outbound import HttpRequest, OutboundMessage, SendOutcome
from libs.providers.sending import (
    accepted,
    as_dict,
    as_text,
    base_url,
    permanent,
    secret,
    transient,
)

PROVIDER = Provider.CHANNELTALK.value
API_BASE_URL = "https://api.channel.io"
MAX_TEXT_CHARS = 10_000


def build_request(
    message: OutboundMessage, integration: Integration, *, now: datetime | None = None
) -> HttpRequest:
    credentials = integration.outbound
    chat = quote(message.path.thread or message.path.address, safe="")
    query = f"?{urlencode({'botName': credentials.bot_name})}" if credentials.bot_name else ""
    return HttpRequest(
        url=f"{base_url(integration, API_BASE_URL)}/open/v5/user-chats/{chat}/messages{query}",
        headers={
            "x-access-key": secret(credentials.access_key),
            "x-access-secret": secret(credentials.access_secret),
        },
        json_body={"blocks": [{"type": "text", "value": message.text}]},
    )


def classify(status: int, body: Any, headers: Mapping[str, str]) -> SendOutcome:
    answer = as_dict(body)
    if status == 200:
        return accepted(as_text(as_dict(answer.get("message")).get("id")), status)
    errors = answer.get("errors") if isinstance(answer.get("errors"), list) else []
    detail = "; ".join(str(as_dict(e).get("message")) for e in errors) or as_text(body, 300)
    shared = transient(status, headers, detail)
    if shared is not None:
        return shared
    if status in (401, 403):
        return permanent(status, code="bad_token", detail=detail)
    if status == 404:
        return permanent(status, code="invalid_recipient", detail=detail)
    return permanent(status, code="rejected", detail=detail)

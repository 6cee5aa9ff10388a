"""Telegram Bot API outbound: ``sendMessage``.

Reference: core.telegram.org/bots/api#making-requests (``POST
https://api.telegram.org/bot<token>/METHOD_NAME``, JSON bodies, the answer
``{"ok": true, "result": …}`` or ``{"ok": false, "error_code", "description",
"parameters": {"retry_after"}}``), #sendmessage (``chat_id``, ``text`` 1-4096
characters, ``message_thread_id``, ``reply_markup``), #inlinekeyboardmarkup
and #inlinekeyboardbutton (``callback_data`` 1-64 bytes),
#responseparameters (``retry_after`` on flood control).
Telegram reports no delivery or read status to bots.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from libs.providers.integrations import Integration, Provider
from libs.providers.outbound import HttpRequest, OutboundMessage, SendOutcome, Unsendable
from libs.providers.sending import (
    accepted,
    as_dict,
    as_seconds,
    as_text,
    base_url,
    permanent,
    retry,
    secret,
    transient,
)

PROVIDER = Provider.TELEGRAM.value
API_BASE_URL = "https://api.telegram.org"
MAX_TEXT_CHARS = 4096
MAX_CALLBACK_DATA_BYTES = 64
BUTTONS_PER_ROW = 3

#: Documented ``description`` fragments of permanent refusals → our error code.
PERMANENT_DESCRIPTIONS = {
    "bot was blocked by the user": "blocked_by_user",
    "user is deactivated": "invalid_recipient",
    "chat not found": "invalid_recipient",
    "bot was kicked": "blocked_by_user",
    "message is too long": "too_long",
    "message text is empty": "empty_text",
}


def check(message: OutboundMessage, integration: Integration, now: datetime) -> None:
    for reply in message.quick_replies:
        if len(reply.payload.encode()) > MAX_CALLBACK_DATA_BYTES:
            raise Unsendable(
                "quick_reply_too_long",
                f"quick reply payload over {MAX_CALLBACK_DATA_BYTES} bytes (callback_data)",
                provider=PROVIDER,
                limit=MAX_CALLBACK_DATA_BYTES,
            )


def build_request(
    message: OutboundMessage, integration: Integration, *, now: datetime | None = None
) -> HttpRequest:
    token = secret(integration.outbound.token)
    body: dict[str, Any] = {"chat_id": message.path.address, "text": message.text}
    if message.path.thread:
        body["message_thread_id"] = int(message.path.thread)
    if message.quick_replies:
        buttons = [{"text": r.label, "callback_data": r.payload} for r in message.quick_replies]
        rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
        body["reply_markup"] = {"inline_keyboard": rows}
    return HttpRequest(
        url=f"{base_url(integration, API_BASE_URL)}/bot{token}/sendMessage", json_body=body
    )


def classify(status: int, body: Any, headers: Mapping[str, str]) -> SendOutcome:
    answer = as_dict(body)
    if status == 200 and answer.get("ok") is True:
        result = as_dict(answer.get("result"))
        chat = as_dict(result.get("chat")).get("id")
        return accepted(f"{chat}:{result.get('message_id')}", status)
    description = as_text(answer.get("description") or body) or ""
    if status == 429:
        hint = as_seconds(as_dict(answer.get("parameters")).get("retry_after"))
        return retry(status, after_s=hint, code="rate_limited", detail=description)
    shared = transient(status, headers, description)
    if shared is not None:
        return shared
    if status == 401 or status == 404:  # 404: the token names no bot
        return permanent(status, code="bad_token", detail=description)
    lowered = description.lower()
    for fragment, code in PERMANENT_DESCRIPTIONS.items():
        if fragment in lowered:
            return permanent(status, code=code, detail=description)
    return permanent(status, code="rejected", detail=description)

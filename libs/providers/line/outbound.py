"""LINE Messaging API outbound: reply while the reply token is fresh, else push.

References (developers.line.biz/en/reference/messaging-api/):
- #send-reply-message: ``POST /v2/bot/message/reply`` ``{replyToken,
  messages[1..5]}``; a reply token is single-use and expires shortly after
  the webhook (we use it for :data:`REPLY_TOKEN_TTL` only); an invalid or
  used token answers 400 ``{"message": "Invalid reply token"}``.
- #send-push-message: ``POST /v2/bot/message/push`` ``{to, messages}`` with
  ``X-Line-Retry-Key`` (a UUID): a repeat of an accepted request answers 409
  and ``x-line-accepted-request-id`` (docs/messaging-api/retrying-api-request).
- #text-message: ``{"type": "text", "text"}`` ≤ 5000 characters;
  #quick-reply: ``quickReply.items`` ≤ 13, ``{"type": "action", "action":
  {"type": "postback", "label" ≤ 20, "data", "displayText"}}``.
- #error-responses: ``{"message", "details": [{"message", "property"}]}``;
  401 invalid channel access token; 429 rate limit or monthly limit.
- Auth: ``Authorization: Bearer {channel access token}``.
LINE reports no delivery status of pushed messages to the bot.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from libs.common.events.base import utc_now
from libs.providers.integrations import Integration, Provider
from libs.providers.outbound import HttpRequest, OutboundMessage, SendOutcome, Unsendable
from libs.providers.sending import (
    HttpSender,
    accepted,
    as_dict,
    as_text,
    base_url,
    first_dict,
    permanent,
    secret,
    transient,
)

PROVIDER = Provider.LINE.value
API_BASE_URL = "https://api.line.me"
MAX_TEXT_CHARS = 5000
MAX_QUICK_REPLIES = 13
REPLY_TOKEN_TTL = timedelta(seconds=30)  # conservative: LINE does not promise a duration
INVALID_REPLY_TOKEN = "invalid_reply_token"  # noqa: S105 - an error code
RETRY_KEY_NAMESPACE = uuid.UUID("6f6d6e69-6465-736b-8000-00000000011e")


def reply_token_fresh(message: OutboundMessage, now: datetime) -> bool:
    path = message.path
    expires = path.reply_token_expires_at
    return bool(path.reply_token) and expires is not None and now < expires


def check(message: OutboundMessage, integration: Integration, now: datetime) -> None:
    if len(message.quick_replies) > MAX_QUICK_REPLIES:
        raise Unsendable(
            "too_many_quick_replies",
            f"LINE shows at most {MAX_QUICK_REPLIES} quick reply items",
            provider=PROVIDER,
            limit=MAX_QUICK_REPLIES,
        )


def retry_key(message: OutboundMessage) -> str:
    """Stable per message, so a resend after a lost answer is refused with 409."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, message.idempotency_key))


def build_request(
    message: OutboundMessage,
    integration: Integration,
    *,
    now: datetime | None = None,
    push: bool = False,
) -> HttpRequest:
    headers = {"Authorization": f"Bearer {secret(integration.outbound.token)}"}
    root = base_url(integration, API_BASE_URL)
    messages = [_text_message(message)]
    if not push and reply_token_fresh(message, now or utc_now()):
        body = {"replyToken": message.path.reply_token, "messages": messages}
        return HttpRequest(url=f"{root}/v2/bot/message/reply", headers=headers, json_body=body)
    headers["X-Line-Retry-Key"] = retry_key(message)
    body = {"to": message.path.address, "messages": messages}
    return HttpRequest(url=f"{root}/v2/bot/message/push", headers=headers, json_body=body)


def _text_message(message: OutboundMessage) -> dict[str, Any]:
    text: dict[str, Any] = {"type": "text", "text": message.text}
    if message.quick_replies:
        text["quickReply"] = {
            "items": [
                {
                    "type": "action",
                    "action": {
                        "type": "postback",
                        "label": r.label,
                        "data": r.payload,
                        "displayText": r.label,
                    },
                }
                for r in message.quick_replies
            ]
        }
    return text


def classify(status: int, body: Any, headers: Mapping[str, str]) -> SendOutcome:
    answer = as_dict(body)
    if status == 200:
        sent = as_text(first_dict(answer.get("sentMessages")).get("id"))
        return accepted(sent or headers.get("x-line-request-id"), status)
    if status == 409 and headers.get("x-line-accepted-request-id"):
        # The retry key was accepted before: this message already went out.
        return accepted(f"request:{headers['x-line-accepted-request-id']}", status)
    message = as_text(answer.get("message") or body, 300) or ""
    raw_details = answer.get("details")
    details = [as_dict(d) for d in raw_details] if isinstance(raw_details, list) else []
    detail = message + "".join(f"; {d.get('property')}: {d.get('message')}" for d in details)
    if status == 429 and "monthly limit" in message.lower():
        return permanent(status, code="quota_exceeded", detail=detail)
    shared = transient(status, headers, detail)
    if shared is not None:
        return shared
    if status == 401:
        return permanent(status, code="bad_token", detail=detail)
    if status == 400 and "reply token" in message.lower():
        return permanent(status, code=INVALID_REPLY_TOKEN, detail=detail)
    if status == 400 and any(d.get("property") == "to" for d in details):
        return permanent(status, code="invalid_recipient", detail=detail)
    if status == 403:
        return permanent(status, code="forbidden", detail=detail)
    return permanent(status, code="rejected", detail=detail)


class LineSender(HttpSender):
    """Reply first; a refused reply token falls back to one push (with its retry key)."""

    async def send(self, message: OutboundMessage) -> SendOutcome:
        outcome = await super().send(message)
        if outcome.error_code != INVALID_REPLY_TOKEN:
            return outcome
        return await self.perform(build_request(message, self.integration, push=True))

"""Slack Web API outbound: ``chat.postMessage`` in the customer's thread.

References:
- docs.slack.dev/reference/methods/chat.postMessage (api.slack.com/methods/
  chat.postMessage): ``POST https://slack.com/api/chat.postMessage``,
  ``Authorization: Bearer xoxb-…``, JSON ``{channel, text, thread_ts?,
  blocks?}``; success ``{"ok": true, "channel", "ts", "message"}``; errors
  are HTTP 200 ``{"ok": false, "error": "channel_not_found" | "not_in_channel"
  | "is_archived" | "msg_too_long" | "no_text" | "invalid_blocks" |
  "invalid_auth" | "not_authed" | "token_revoked" | "account_inactive" |
  "ratelimited" …}``; text is truncated past 40,000 characters.
- docs.slack.dev/apis/web-api/rate-limits: HTTP 429 with ``Retry-After``.
- docs.slack.dev/reference/block-kit/blocks/actions-block and
  block-elements/button-element: ``{"type": "button", "text": {"type":
  "plain_text", "text"}, "value", "action_id"}``.
Slack reports no delivery status.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from libs.providers.integrations import Integration, Provider
from libs.providers.outbound import HttpRequest, OutboundMessage, SendOutcome
from libs.providers.sending import (
    accepted,
    as_dict,
    as_text,
    base_url,
    permanent,
    retry,
    retry_after_s,
    secret,
    transient,
)

PROVIDER = Provider.SLACK.value
API_BASE_URL = "https://slack.com"
MAX_TEXT_CHARS = 40_000

RETRY_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
PERMANENT_ERRORS = {
    "invalid_auth": "bad_token",
    "not_authed": "bad_token",
    "token_revoked": "bad_token",
    "token_expired": "bad_token",
    "account_inactive": "bad_token",
    "missing_scope": "bad_token",
    "channel_not_found": "invalid_recipient",
    "not_in_channel": "invalid_recipient",
    "is_archived": "invalid_recipient",
    "msg_too_long": "too_long",
    "no_text": "empty_text",
}


def build_request(
    message: OutboundMessage, integration: Integration, *, now: datetime | None = None
) -> HttpRequest:
    body: dict[str, Any] = {"channel": message.path.address, "text": message.text}
    if message.path.thread:
        body["thread_ts"] = message.path.thread
    if message.quick_replies:
        body["blocks"] = [
            {"type": "section", "text": {"type": "plain_text", "text": message.text[:3000]}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": r.label},
                        "value": r.payload,
                        "action_id": f"omnidesk_quick_reply_{i}",
                    }
                    for i, r in enumerate(message.quick_replies)
                ],
            },
        ]
    return HttpRequest(
        url=f"{base_url(integration, API_BASE_URL)}/api/chat.postMessage",
        headers={
            "Authorization": f"Bearer {secret(integration.outbound.token)}",
            "Content-Type": "application/json; charset=utf-8",
        },
        json_body=body,
    )


def classify(status: int, body: Any, headers: Mapping[str, str]) -> SendOutcome:
    answer = as_dict(body)
    if status == 200 and answer.get("ok") is True:
        return accepted(as_text(answer.get("ts")), status)
    shared = transient(status, headers, as_text(body, 300)) if status != 200 else None
    if shared is not None:
        return shared
    error = as_text(answer.get("error"), 100) or f"http_{status}"
    if error in RETRY_ERRORS:
        return retry(
            status,
            after_s=retry_after_s(headers),
            code="rate_limited" if error == "ratelimited" else "provider_unavailable",
            detail=error,
        )
    return permanent(status, code=PERMANENT_ERRORS.get(error, "rejected"), detail=error)

"""WhatsApp Cloud API outbound: ``POST /{version}/{phone-number-id}/messages``.

References (developers.facebook.com/documentation/business-messaging/whatsapp/):
- messages/text-messages and the Messages API reference: ``messaging_product:
  "whatsapp"``, ``recipient_type: "individual"``, ``to``, ``type: "text"``,
  ``text.body`` ≤ 4096 characters, ``Authorization: Bearer <access token>``;
  success ``{"messaging_product", "contacts": [{"input", "wa_id"}],
  "messages": [{"id": "wamid…"}]}``.
- messages/interactive-reply-buttons-messages: ``type: "interactive"``,
  ``interactive.type: "button"``, body text ≤ 1024, at most 3 buttons
  ``{"type": "reply", "reply": {"id", "title" ≤ 20}}``;
  messages/interactive-list-messages: up to 10 rows.
- messages/template-messages: outside the customer-service window only a
  template may be sent (``type: "template"``, ``template.name``,
  ``template.language.code``, body parameters).
- support/error-codes: errors are ``{"error": {"message", "type", "code",
  "error_data": {"details"}, "fbtrace_id"}}``; 131047 re-engagement message
  (more than 24 hours since the customer last replied), 190 access token
  expired/invalid, 130429 / 131056 / 80007 rate limits, 131026 undeliverable,
  131030 recipient not in the allowed list, 100 invalid parameter.
- pricing / customer-service windows: 24 hours from the customer's last message.
Statuses (sent, delivered, read, failed) come back by webhook with the wamid.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from libs.common.events.base import utc_now
from libs.providers.integrations import Integration, Provider
from libs.providers.outbound import HttpRequest, OutboundMessage, SendOutcome, Unsendable
from libs.providers.sending import (
    accepted,
    as_dict,
    as_text,
    base_url,
    first_dict,
    permanent,
    retry,
    retry_after_s,
    secret,
    transient,
)

PROVIDER = Provider.WHATSAPP.value
API_BASE_URL = "https://graph.facebook.com"
MAX_TEXT_CHARS = 4096
MAX_INTERACTIVE_BODY_CHARS = 1024
MAX_BUTTONS = 3
MAX_LIST_ROWS = 10
CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)

RATE_LIMIT_CODES = {4, 80007, 130429, 131048, 131056}
RETRY_CODES = {1, 2, 131000, 131016}  # "something went wrong" / service unavailable
PERMANENT_CODES = {
    131047: "window_closed",
    190: "bad_token",
    10: "bad_token",  # permission denied
    131026: "invalid_recipient",
    131030: "invalid_recipient",
    133010: "invalid_recipient",  # phone number not registered
    131051: "unsupported",
    132000: "template_invalid",
    132001: "template_invalid",
}


def window_open(message: OutboundMessage, now: datetime) -> bool:
    """Free text is allowed within 24 h of the customer's last message (unknown = closed)."""
    last = message.customer_last_inbound_at
    return last is not None and now - last < CUSTOMER_SERVICE_WINDOW


def check(message: OutboundMessage, integration: Integration, now: datetime) -> None:
    if not window_open(message, now) and not integration.outbound.window_template:
        raise Unsendable(
            "window_closed",
            "more than 24 hours since the customer's last message and no window_template "
            "is configured: WhatsApp accepts only an approved template now",
            provider=PROVIDER,
        )
    if len(message.quick_replies) > MAX_LIST_ROWS:
        raise Unsendable(
            "too_many_quick_replies",
            f"{len(message.quick_replies)} quick replies; a list holds at most {MAX_LIST_ROWS}",
            provider=PROVIDER,
            limit=MAX_LIST_ROWS,
        )
    if message.quick_replies and len(message.text) > MAX_INTERACTIVE_BODY_CHARS:
        raise Unsendable(
            "too_long",
            f"a message with buttons holds at most {MAX_INTERACTIVE_BODY_CHARS} characters",
            provider=PROVIDER,
            limit=MAX_INTERACTIVE_BODY_CHARS,
        )


def build_request(
    message: OutboundMessage, integration: Integration, *, now: datetime | None = None
) -> HttpRequest:
    credentials = integration.outbound
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.path.address,
    }
    if not window_open(message, now or utc_now()):
        body.update(_template(message, integration))
    elif message.quick_replies:
        body.update(type="interactive", interactive=_interactive(message))
    else:
        body.update(type="text", text={"preview_url": False, "body": message.text})
    root = base_url(integration, API_BASE_URL)
    return HttpRequest(
        url=f"{root}/{credentials.api_version}/{credentials.phone_number_id}/messages",
        headers={"Authorization": f"Bearer {secret(credentials.token)}"},
        json_body=body,
    )


def _template(message: OutboundMessage, integration: Integration) -> dict[str, Any]:
    credentials = integration.outbound
    return {
        "type": "template",
        "template": {
            "name": credentials.window_template,
            "language": {"code": credentials.window_template_language},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": message.text}]}
            ],
        },
    }


def _interactive(message: OutboundMessage) -> dict[str, Any]:
    rows = [{"id": r.payload, "title": r.label} for r in message.quick_replies]
    if len(rows) <= MAX_BUTTONS:
        buttons = [{"type": "reply", "reply": row} for row in rows]
        return {"type": "button", "body": {"text": message.text}, "action": {"buttons": buttons}}
    return {
        "type": "list",
        "body": {"text": message.text},
        "action": {"button": "Choose", "sections": [{"title": "Options", "rows": rows}]},
    }


def classify(status: int, body: Any, headers: Mapping[str, str]) -> SendOutcome:
    answer = as_dict(body)
    if 200 <= status < 300:
        return accepted(as_text(first_dict(answer.get("messages")).get("id")), status)
    error = as_dict(answer.get("error"))
    code = error.get("code") if type(error.get("code")) is int else None
    details = as_text(as_dict(error.get("error_data")).get("details"))
    detail = f"{code}: {as_text(error.get('message'))}" + (f" ({details})" if details else "")
    if code in RATE_LIMIT_CODES:
        return retry(status, after_s=retry_after_s(headers), code="rate_limited", detail=detail)
    if code in RETRY_CODES:
        return retry(status, after_s=None, code="provider_unavailable", detail=detail)
    if code in PERMANENT_CODES:
        return permanent(status, code=PERMANENT_CODES[code], detail=detail)
    shared = transient(status, headers, detail)
    if shared is not None:
        return shared
    if status == 401:
        return permanent(status, code="bad_token", detail=detail)
    return permanent(status, code="rejected", detail=detail)

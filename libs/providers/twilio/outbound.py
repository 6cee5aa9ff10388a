"""Twilio Messages API outbound (SMS, and WhatsApp through Twilio).

References:
- twilio.com/docs/messaging/api/message-resource#create-a-message-resource:
  ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded,
  HTTP Basic ``AccountSid:AuthToken``; ``To`` required; ``From`` or
  ``MessagingServiceSid``; ``Body`` (≤ 1600 characters) or ``MediaUrl`` or
  ``ContentSid``; ``StatusCallback`` URL; success 201 with the Message
  resource (``sid`` SM…, ``status`` queued/accepted).
- twilio.com/docs/usage/twilios-response#response-formats-exceptions: errors
  ``{"code", "message", "more_info", "status"}``.
- twilio.com/docs/api/errors: 20003 authentication, 20429 too many requests,
  21211 invalid 'To' number, 21408 permission for region, 21610 unsubscribed
  recipient, 21614 not a mobile number, 21617 body too long, 63016 WhatsApp
  outside the 24-hour window (freeform not allowed).
- twilio.com/docs/whatsapp/api: WhatsApp numbers as ``whatsapp:+E164`` on
  both ``From`` and ``To``.
Statuses come back to StatusCallback (MessageStatus queued … delivered, read,
undelivered, failed + ErrorCode); see :mod:`.inbound`.
"""

from __future__ import annotations

import base64
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

PROVIDER = Provider.TWILIO.value
API_BASE_URL = "https://api.twilio.com"
MAX_TEXT_CHARS = 1600
WHATSAPP_PREFIX = "whatsapp:"

PERMANENT_CODES = {
    20003: "bad_token",
    20404: "invalid_recipient",
    21211: "invalid_recipient",
    21614: "invalid_recipient",
    21408: "invalid_recipient",
    21610: "unsubscribed",
    21617: "too_long",
    63016: "window_closed",
}


def build_request(
    message: OutboundMessage, integration: Integration, *, now: datetime | None = None
) -> HttpRequest:
    credentials = integration.outbound
    to = message.path.address
    form = {"To": to, "Body": message.text}
    if credentials.messaging_service_sid:
        form["MessagingServiceSid"] = credentials.messaging_service_sid
    else:
        sender = credentials.from_number or ""
        if to.startswith(WHATSAPP_PREFIX) and not sender.startswith(WHATSAPP_PREFIX):
            sender = WHATSAPP_PREFIX + sender
        form["From"] = sender
    if credentials.status_callback_url:
        form["StatusCallback"] = credentials.status_callback_url
    token = secret(credentials.auth_token) or integration.secret_value()
    pair = base64.b64encode(f"{credentials.account_sid}:{token}".encode()).decode()
    root = base_url(integration, API_BASE_URL)
    return HttpRequest(
        url=f"{root}/2010-04-01/Accounts/{credentials.account_sid}/Messages.json",
        headers={"Authorization": f"Basic {pair}"},
        form_body=form,
    )


def classify(status: int, body: Any, headers: Mapping[str, str]) -> SendOutcome:
    answer = as_dict(body)
    if status in (200, 201):
        return accepted(as_text(answer.get("sid")), status)
    code = answer.get("code") if type(answer.get("code")) is int else None
    detail = f"{code}: {as_text(answer.get('message'))}" if code else as_text(body)
    if code == 20429:
        return retry(status, after_s=retry_after_s(headers), code="rate_limited", detail=detail)
    if code in PERMANENT_CODES:
        return permanent(status, code=PERMANENT_CODES[code], detail=detail)
    shared = transient(status, headers, detail)
    if shared is not None:
        return shared
    if status == 401:
        return permanent(status, code="bad_token", detail=detail)
    return permanent(status, code="rejected", detail=detail)

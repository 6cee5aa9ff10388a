"""Twilio Messages API fixture: ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``.

Follows:
- twilio.com/docs/messaging/api/message-resource#create-a-message-resource:
  form-encoded (``application/x-www-form-urlencoded``), HTTP Basic
  ``AccountSid:AuthToken``; ``To`` required; ``From`` or
  ``MessagingServiceSid`` required; ``Body`` (≤ 1600 characters) or
  ``MediaUrl`` or ``ContentSid``; ``StatusCallback`` an absolute URL; success
  201 with the Message resource (``sid`` = ``SM`` + 32 hex, ``status``
  ``queued``).
- twilio.com/docs/usage/twilios-response#response-formats-exceptions: an
  error is ``{"code", "message", "more_info", "status"}``.
- twilio.com/docs/api/errors: 20003 Authenticate (401), 20429 Too Many
  Requests (429), 21211 Invalid 'To' Phone Number, 21602 Message body is
  required, 21603 'From' phone number is required, 21604 'To' phone number is
  required, 21609 Invalid 'StatusCallback', 21610 unsubscribed recipient,
  21617 body exceeds the 1600 character limit, 63007 no channel for the
  'From' address (WhatsApp needs ``whatsapp:`` on both), 63016 outside the
  WhatsApp 24-hour window.
- twilio.com/docs/messaging/guides/track-outbound-message-status: status
  callbacks are form posts with ``MessageSid``, ``MessageStatus``,
  ``AccountSid``, ``From``, ``To`` (+ ``ErrorCode``), signed with
  ``X-Twilio-Signature`` (twilio.com/docs/usage/webhooks/webhooks-security).
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from libs.common.webhooks.signatures import twilio_signature
from tests.provider_fakes.base import FakeProvider, Injected, Recorded, json_refusal, media_type

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
WHATSAPP = "whatsapp:"


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "status": status,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
    }


def refuse(status: int, code: int, message: str) -> Exception:
    return json_refusal(status, twilio_error(status, code, message), f"{code}: {message}")


@dataclass
class TwilioFake(FakeProvider):
    name: str = "twilio"
    account_sid: str = "AC" + "0" * 31 + "1"
    auth_token: str = "twilio-auth-token-0123456789abcd"
    from_number: str = "+15005550006"
    unsubscribed: set[str] = field(default_factory=set)
    #: The switch: statuses each accepted message reports to its StatusCallback URL.
    report_statuses: tuple[str, ...] = ()

    def reset(self) -> None:
        super().reset()
        self.unsubscribed.clear()
        self.report_statuses = ()

    def routes(self) -> list[Route]:
        return [
            Route(
                "/2010-04-01/Accounts/{sid}/Messages.json",
                self.endpoint(self.create),
                methods=["POST"],
            )
        ]

    def injected_response(self, failure: Injected) -> Response:
        if failure.kind == "rate_limited":
            return JSONResponse(
                twilio_error(429, 20429, "Too Many Requests"),
                status_code=429,
                headers={"Retry-After": str(failure.retry_after_s)},
            )
        if failure.kind == "permanent":
            return JSONResponse(
                twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"),
                status_code=400,
            )
        return JSONResponse(twilio_error(503, 20503, "Service unavailable"), status_code=503)

    async def create(self, request: Request, recorded: Recorded) -> Response:
        if self._basic(recorded) != (self.account_sid, self.auth_token):
            raise refuse(401, 20003, "Authenticate")
        if request.path_params["sid"] != self.account_sid:
            raise refuse(404, 20404, "The requested resource was not found")
        if media_type(recorded) != "application/x-www-form-urlencoded":
            raise refuse(400, 21602, "Message body is required.")  # JSON is not read as params
        form: dict[str, str] = recorded.body
        to, sender = form.get("To", ""), form.get("From", "")
        if not to:
            raise refuse(400, 21604, "A 'To' phone number is required.")
        if not sender and not form.get("MessagingServiceSid"):
            raise refuse(400, 21603, "A 'From' phone number is required.")
        if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
            raise refuse(400, 21602, "Message body is required.")
        if len(form.get("Body", "")) > 1600:
            raise refuse(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if not E164.match(to.removeprefix(WHATSAPP)):
            raise refuse(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if sender and to.startswith(WHATSAPP) != sender.startswith(WHATSAPP):
            raise refuse(
                400, 63007, "Twilio could not find a Channel with the specified From address"
            )
        callback = form.get("StatusCallback")
        if callback is not None and not re.match(r"^https?://[^/\s_]+", callback):
            raise refuse(400, 21609, "Invalid 'StatusCallback'")
        if to.removeprefix(WHATSAPP) in self.unsubscribed:
            raise refuse(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = "SM" + secrets.token_hex(16)
        resource = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": sender or None,
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form.get("Body", ""),
            "status": "queued",
            "direction": "outbound-api",
            "num_segments": "1",
            "num_media": "0",
            "error_code": None,
            "error_message": None,
            "price": None,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        background = None
        if callback and self.report_statuses:
            background = self.callbacks_after_answer(partial(self._report, callback, sid, to))
        return JSONResponse(resource, status_code=201, background=background)

    async def _report(self, url: str, sid: str, to: str) -> None:
        """What Twilio does with a StatusCallback: one signed callback per state."""
        for state in self.report_statuses:
            response = await self.emit_status(url, sid, state, to)
            self.status_answers.append(response.status_code)

    @staticmethod
    def _basic(recorded: Recorded) -> tuple[str, str] | None:
        scheme, _, value = (recorded.header("authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        return user, password

    # --- status callbacks back to chat_ingest ---

    def status_callback(
        self, url: str, message_sid: str, state: str, to: str, error_code: str | None = None
    ) -> tuple[dict[str, str], dict[str, str]]:
        params = {
            "MessageSid": message_sid,
            "SmsSid": message_sid,
            "MessageStatus": state,
            "SmsStatus": state,
            "AccountSid": self.account_sid,
            "From": self.from_number,
            "To": to,
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = error_code
        signature = twilio_signature(self.auth_token, url, params)
        return params, {"x-twilio-signature": signature}

    async def emit_status(self, url: str, message_sid: str, state: str, to: str) -> httpx.Response:
        """POST a correctly signed MessageStatus callback (delivered / read / failed)."""
        params, headers = self.status_callback(url, message_sid, state, to)
        async with httpx.AsyncClient() as client:
            return await client.post(url, data=params, headers=headers)

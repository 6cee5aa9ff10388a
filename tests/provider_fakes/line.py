"""LINE Messaging API fixture: reply and push.

Follows developers.line.biz/en/reference/messaging-api/:
- #send-reply-message: ``POST /v2/bot/message/reply`` ``{replyToken,
  messages}``; a token is single-use; an unknown, used or expired token
  answers 400 ``{"message": "Invalid reply token"}``.
- #send-push-message: ``POST /v2/bot/message/push`` ``{to, messages}``;
  ``X-Line-Retry-Key`` must be a UUID; a repeat of an accepted retry key
  answers 409 ``{"message": "The retry key is already accepted"}`` with
  ``x-line-accepted-request-id`` (docs/messaging-api/retrying-api-request).
- Both: ``Authorization: Bearer {channel access token}`` (401 ``{"message":
  "Authentication failed. Confirm that the access token in the authorization
  header is valid."}``), JSON body, ``messages`` 1-5; success 200
  ``{"sentMessages": [{"id", "quoteToken"}]}`` with ``x-line-request-id``.
- #text-message: ``text`` ≤ 5000 characters; #quick-reply: ≤ 13 items,
  ``action.label`` ≤ 20.
- #error-responses: ``{"message": "The request body has N error(s)",
  "details": [{"message", "property"}]}``; 429 ``{"message": "The API rate
  limit has been exceeded. Try again later."}``.
- #get-content: ``GET /v2/bot/message/{messageId}/content`` (on api-data.line.me;
  here the same fixture), bearer; 200 with the bytes and their Content-Type;
  404 ``{"message": "Not found"}`` for no such content; 202 (no body) while a
  video/audio is still being prepared.
- #verify-video-or-audio-preparation-status: ``GET …/content/transcoding``
  answers ``{"status": "processing" | "succeeded" | "failed"}``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.provider_fakes.base import (
    FakeProvider,
    Injected,
    Recorded,
    bearer,
    json_refusal,
    media_type,
)

USER_ID = re.compile(r"^U[0-9a-f]{32}$")


def details(*problems: tuple[str, str]) -> dict[str, Any]:
    return {
        "message": f"The request body has {len(problems)} error(s)",
        "details": [{"message": m, "property": p} for m, p in problems],
    }


@dataclass
class LineFake(FakeProvider):
    name: str = "line"
    channel_access_token: str = "line-channel-access-token-0123456789"
    reply_tokens: set[str] = field(default_factory=set)
    accepted_retry_keys: dict[str, str] = field(default_factory=dict)
    #: message id → (bytes, content type) users sent; #get-content serves them.
    contents: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    #: message id → how many more transcoding checks answer "processing" (then "succeeded").
    preparing: dict[str, int] = field(default_factory=dict)
    failed_preparations: set[str] = field(default_factory=set)

    def add_content(
        self, message_id: str, data: bytes, content_type: str, *, polls: int = 0
    ) -> None:
        """Content of a user's message; ``polls`` > 0: a video still being prepared."""
        self.contents[message_id] = (data, content_type)
        if polls:
            self.preparing[message_id] = polls

    def reset(self) -> None:
        super().reset()
        self.reply_tokens.clear()
        self.accepted_retry_keys.clear()
        self.contents.clear()
        self.preparing.clear()
        self.failed_preparations.clear()

    def issue_reply_token(self) -> str:
        """A reply token as a webhook would carry it (valid once)."""
        token = secrets.token_hex(16)
        self.reply_tokens.add(token)
        return token

    def routes(self) -> list[Route]:
        return [
            Route("/v2/bot/message/reply", self.endpoint(self.reply), methods=["POST"]),
            Route("/v2/bot/message/push", self.endpoint(self.push), methods=["POST"]),
            Route(
                "/v2/bot/message/{message_id}/content",
                self.endpoint(self.content),
                methods=["GET"],
            ),
            Route(
                "/v2/bot/message/{message_id}/content/transcoding",
                self.endpoint(self.transcoding),
                methods=["GET"],
            ),
        ]

    def _authorised(self, recorded: Recorded) -> None:
        if bearer(recorded) != self.channel_access_token:
            raise json_refusal(
                401,
                {
                    "message": "Authentication failed. Confirm that the access "
                    "token in the authorization header is valid."
                },
                "bad token",
            )

    async def content(self, request: Request, recorded: Recorded) -> Response:
        self._authorised(recorded)
        message_id = request.path_params["message_id"]
        if message_id not in self.contents:
            raise json_refusal(404, {"message": "Not found"}, "no such content")
        if message_id in self.preparing or message_id in self.failed_preparations:
            return Response(status_code=202)
        data, content_type = self.contents[message_id]
        return Response(data, media_type=content_type)

    async def transcoding(self, request: Request, recorded: Recorded) -> Response:
        self._authorised(recorded)
        message_id = request.path_params["message_id"]
        if message_id not in self.contents:
            raise json_refusal(404, {"message": "Not found"}, "no such content")
        if message_id in self.failed_preparations:
            return JSONResponse({"status": "failed"})
        left = self.preparing.get(message_id, 0)
        if left > 0:
            self.preparing[message_id] = left - 1
            return JSONResponse({"status": "processing"})
        self.preparing.pop(message_id, None)
        return JSONResponse({"status": "succeeded"})

    def injected_response(self, failure: Injected) -> Response:
        if failure.kind == "rate_limited":
            return JSONResponse(
                {"message": "The API rate limit has been exceeded. Try again later."},
                status_code=429,
                headers={"Retry-After": str(failure.retry_after_s)},
            )
        if failure.kind == "permanent":
            return JSONResponse({"message": "You have reached your monthly limit."}, 429)
        return JSONResponse({"message": "Internal server error"}, status_code=500)

    def _common(self, recorded: Recorded) -> dict[str, Any]:
        self._authorised(recorded)
        if media_type(recorded) != "application/json" or not isinstance(recorded.body, dict):
            raise json_refusal(415, {"message": "The request body is not JSON"}, "not JSON")
        body = recorded.body
        messages = body.get("messages")
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            raise json_refusal(
                400, details(("Size must be between 1 and 5", "messages")), "messages count"
            )
        for i, message in enumerate(messages):
            self._message(i, message)
        return body

    def _message(self, i: int, message: dict[str, Any]) -> None:
        if message.get("type") != "text":
            raise json_refusal(
                400,
                details(("Must be one of the following values: [text, …]", f"messages[{i}].type")),
                "type",
            )
        text = message.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 5000:
            raise json_refusal(
                400,
                details(("Length must be between 0 and 5000", f"messages[{i}].text")),
                "text length",
            )
        items = (message.get("quickReply") or {}).get("items")
        if items is None:
            return
        if not 1 <= len(items) <= 13:
            raise json_refusal(
                400,
                details(("Size must be between 1 and 13", f"messages[{i}].quickReply.items")),
                "quick replies",
            )
        for j, item in enumerate(items):
            label = (item.get("action") or {}).get("label")
            if item.get("type") != "action" or not label or len(label) > 20:
                raise json_refusal(
                    400,
                    details(
                        (
                            "Length must be between 1 and 20",
                            f"messages[{i}].quickReply.items[{j}].action.label",
                        )
                    ),
                    "quick reply label",
                )

    def _sent(self, body: dict[str, Any], request_id: str) -> Response:
        sent = [
            {"id": str(10**17 + self.next_id()), "quoteToken": secrets.token_urlsafe(16)}
            for _ in body["messages"]
        ]
        return JSONResponse({"sentMessages": sent}, headers={"x-line-request-id": request_id})

    async def reply(self, request: Request, recorded: Recorded) -> Response:
        body = self._common(recorded)
        token = body.get("replyToken")
        if token not in self.reply_tokens:
            raise json_refusal(400, {"message": "Invalid reply token"}, "invalid reply token")
        self.reply_tokens.discard(token)
        return self._sent(body, str(uuid.uuid4()))

    async def push(self, request: Request, recorded: Recorded) -> Response:
        body = self._common(recorded)
        if not USER_ID.match(str(body.get("to", ""))):
            raise json_refusal(
                400,
                {
                    "message": "The property, 'to', in the request body is "
                    "invalid (line: -, column: -)"
                },
                "bad to",
            )
        key = recorded.header("x-line-retry-key")
        if key is not None:
            try:
                uuid.UUID(key)
            except ValueError:
                raise json_refusal(
                    400,
                    {"message": "The value for the 'X-Line-Retry-Key' header is invalid"},
                    "retry key not a UUID",
                ) from None
            if key in self.accepted_retry_keys:
                raise json_refusal(
                    409,
                    {"message": "The retry key is already accepted"},
                    "retry key repeated",
                    headers={"x-line-accepted-request-id": self.accepted_retry_keys[key]},
                )
        request_id = str(uuid.uuid4())
        if key is not None:
            self.accepted_retry_keys[key] = request_id
        return self._sent(body, request_id)

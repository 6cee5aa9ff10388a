"""Channel Talk Open API fixture: a message into a user chat.

Follows developers.channel.io (Open API v5, "UserChat - Send a message"):
``POST /open/v5/user-chats/{userChatId}/messages``; authenticated by the
``x-access-key`` and ``x-access-secret`` headers (the channel's API key
pair); JSON body with ``blocks`` (``[{"type": "text", "value"}]``) or
``plainText``; optional ``botName`` query; success 200 ``{"message": {"id",
"chatId", "personType": "bot", "blocks", "createdAt"}}``. Error bodies
``{"type", "status", "errors": [{"message"}]}``: 401 on a bad key pair, 404
for an unknown user chat, 422 for an invalid body, 429 when rate limited
(with ``x-ratelimit-*`` headers). Channel Talk documents no text limit, so
this fixture enforces none.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.provider_fakes.base import FakeProvider, Injected, Recorded, json_refusal, media_type


def ct_error(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"type": kind, "status": status, "errors": [{"message": message}]}


@dataclass
class ChannelTalkFake(FakeProvider):
    name: str = "channeltalk"
    access_key: str = "channeltalk-access-key"
    access_secret: str = "channeltalk-access-secret-0123456789"
    missing_chats: set[str] = field(default_factory=set)

    def routes(self) -> list[Route]:
        return [
            Route(
                "/open/v5/user-chats/{chat_id}/messages", self.endpoint(self.send), methods=["POST"]
            )
        ]

    def injected_response(self, failure: Injected) -> Response:
        if failure.kind == "rate_limited":
            return JSONResponse(
                ct_error(429, "tooManyRequests", "rate limit exceeded"),
                429,
                headers={"Retry-After": str(failure.retry_after_s), "x-ratelimit-remaining": "0"},
            )
        if failure.kind == "permanent":
            return JSONResponse(ct_error(404, "notFound", "userChat not found"), 404)
        return JSONResponse(ct_error(503, "serviceUnavailable", "try again later"), 503)

    async def send(self, request: Request, recorded: Recorded) -> Response:
        if (
            recorded.header("x-access-key") != self.access_key
            or recorded.header("x-access-secret") != self.access_secret
        ):
            raise json_refusal(
                401, ct_error(401, "unauthorized", "invalid access key or secret"), "bad key pair"
            )
        if media_type(recorded) != "application/json" or not isinstance(recorded.body, dict):
            raise json_refusal(
                422, ct_error(422, "unprocessableEntity", "JSON body required"), "not JSON"
            )
        chat_id = request.path_params["chat_id"]
        if chat_id in self.missing_chats:
            raise json_refusal(404, ct_error(404, "notFound", "userChat not found"), "no chat")
        body = recorded.body
        blocks = body.get("blocks")
        valid_blocks = (
            isinstance(blocks, list)
            and blocks
            and all(
                b.get("type") == "text" and isinstance(b.get("value"), str) and b["value"]
                for b in blocks
            )
        )
        if not valid_blocks and not body.get("plainText"):
            raise json_refusal(
                422,
                ct_error(422, "unprocessableEntity", "blocks or plainText is required"),
                "no content",
            )
        message = {
            "id": secrets.token_hex(12),
            "chatId": chat_id,
            "chatType": "userChat",
            "personType": "bot",
            "blocks": blocks,
            "plainText": body.get("plainText"),
            "createdAt": int(time.time() * 1000),
        }
        return JSONResponse({"message": message})

"""Kakao i Open Builder fixture: one-time skill callback URLs.

Follows kakaobusiness.gitbook.io/main/tool/chatbot/skill_guide/
ai_chatbot_callback_guide (i.kakao.com/docs/skill-callback-dev-guide): the
platform issues a ``callbackUrl`` per skill request, valid for 1 minute and
for one use; the skill POSTs a SkillResponse to it and gets ``{"taskId",
"status": "SUCCESS", "message", "timestamp"}``. The SkillResponse follows
skill_guide/answer_json_format: ``version`` "2.0", ``template.outputs`` 1-3
items, ``simpleText.text`` ≤ 1000 characters, ``quickReplies`` ≤ 10 items
each with ``label``, ``action`` (``message`` | ``block``) and
``messageText`` for ``message``.
The guide documents no error body for a used or expired callback: this
fixture answers 400 ``{"status": "FAIL", "message": …}`` — our assumption.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.provider_fakes.base import FakeProvider, Injected, Recorded, json_refusal, media_type

CALLBACK_TTL = timedelta(minutes=1)


def fail(message: str) -> Exception:
    return json_refusal(
        400, {"status": "FAIL", "message": message, "timestamp": int(time.time() * 1000)}, message
    )


@dataclass
class KakaoFake(FakeProvider):
    name: str = "kakao"
    base_url: str = ""
    callbacks: dict[str, datetime] = field(default_factory=dict)  # token → expiry

    def reset(self) -> None:
        super().reset()
        self.callbacks.clear()

    def issue_callback(self, *, age: timedelta = timedelta()) -> tuple[str, datetime]:
        """A callbackUrl as a skill payload carries it, and when it expires."""
        token = secrets.token_hex(12)
        expires = datetime.now(UTC) - age + CALLBACK_TTL
        self.callbacks[token] = expires
        return f"{self.base_url}/v1/callback/{token}", expires

    def routes(self) -> list[Route]:
        return [Route("/v1/callback/{token}", self.endpoint(self.callback), methods=["POST"])]

    def injected_response(self, failure: Injected) -> Response:
        if failure.kind == "rate_limited":
            return JSONResponse(
                {"status": "FAIL", "message": "too many requests"},
                429,
                headers={"Retry-After": str(failure.retry_after_s)},
            )
        if failure.kind == "permanent":
            return JSONResponse({"status": "FAIL", "message": "callback expired"}, 400)
        return JSONResponse({"status": "FAIL", "message": "internal error"}, 500)

    async def callback(self, request: Request, recorded: Recorded) -> Response:
        expires = self.callbacks.pop(request.path_params["token"], None)
        if expires is None:
            raise fail("unknown or already used callback")
        if datetime.now(UTC) >= expires:
            raise fail("callback expired")
        if media_type(recorded) != "application/json" or not isinstance(recorded.body, dict):
            raise fail("SkillResponse JSON required")
        self._check(recorded.body)
        return JSONResponse(
            {
                "taskId": secrets.token_hex(8),
                "status": "SUCCESS",
                "message": "",
                "timestamp": int(time.time() * 1000),
            }
        )

    @staticmethod
    def _check(body: dict[str, Any]) -> None:
        if body.get("version") != "2.0":
            raise fail("version must be 2.0")
        template = body.get("template") or {}
        outputs = template.get("outputs")
        if not isinstance(outputs, list) or not 1 <= len(outputs) <= 3:
            raise fail("template.outputs must hold 1-3 items")
        for output in outputs:
            text = (output.get("simpleText") or {}).get("text")
            if "simpleText" in output and (not text or len(text) > 1000):
                raise fail("simpleText.text must be 1-1000 characters")
        replies = template.get("quickReplies") or []
        if len(replies) > 10:
            raise fail("at most 10 quickReplies")
        for reply in replies:
            if not reply.get("label") or reply.get("action") not in ("message", "block"):
                raise fail("quickReplies need label and action")
            if reply["action"] == "message" and not reply.get("messageText"):
                raise fail("action message needs messageText")

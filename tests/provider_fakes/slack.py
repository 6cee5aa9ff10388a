"""Slack Web API fixture: ``chat.postMessage``.

Follows docs.slack.dev/reference/methods/chat.postMessage (also
api.slack.com/methods/chat.postMessage):
- ``POST /api/chat.postMessage``, token as ``Authorization: Bearer``;
  JSON bodies (``application/json``) or form bodies.
- ``channel`` required; ``text`` or ``blocks`` required (``no_text``);
  ``thread_ts`` optional; text past 40,000 characters: ``msg_too_long``.
- Errors are HTTP 200 ``{"ok": false, "error": …}``: ``not_authed`` (no
  token), ``invalid_auth``, ``channel_not_found``, ``no_text``,
  ``msg_too_long``, ``invalid_blocks``; success ``{"ok": true, "channel",
  "ts", "message"}``.
- docs.slack.dev/apis/web-api/rate-limits: HTTP 429 with ``Retry-After``
  and ``{"ok": false, "error": "ratelimited"}``.
- block-kit: an ``actions`` block holds ≤ 25 elements; a button has
  ``text.type == "plain_text"`` (≤ 75 chars) and ``action_id`` (unique).
"""

from __future__ import annotations

import time
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

MAX_TEXT = 40_000


def slack_error(error: str) -> Exception:
    return json_refusal(200, {"ok": False, "error": error}, error)


@dataclass
class SlackFake(FakeProvider):
    name: str = "slack"
    bot_token: str = "xoxb-test-slack-bot-token"
    missing_channels: set[str] = field(default_factory=set)

    def routes(self) -> list[Route]:
        return [Route("/api/chat.postMessage", self.endpoint(self.post_message), methods=["POST"])]

    def injected_response(self, failure: Injected) -> Response:
        if failure.kind == "rate_limited":
            return JSONResponse(
                {"ok": False, "error": "ratelimited"},
                status_code=429,
                headers={"Retry-After": str(failure.retry_after_s)},
            )
        if failure.kind == "permanent":
            return JSONResponse({"ok": False, "error": "channel_not_found"})
        return JSONResponse({"ok": False, "error": "service_unavailable"}, status_code=503)

    async def post_message(self, request: Request, recorded: Recorded) -> Response:
        token = bearer(recorded)
        if token is None:
            raise slack_error("not_authed")
        if token != self.bot_token:
            raise slack_error("invalid_auth")
        if media_type(recorded) not in ("application/json", "application/x-www-form-urlencoded"):
            raise slack_error("invalid_form_data")
        body: dict[str, Any] = recorded.body if isinstance(recorded.body, dict) else {}
        channel = body.get("channel")
        if not channel or channel in self.missing_channels:
            raise slack_error("channel_not_found")
        text, blocks = body.get("text"), body.get("blocks")
        if not text and not blocks:
            raise slack_error("no_text")
        if text and len(text) > MAX_TEXT:
            raise slack_error("msg_too_long")
        if blocks is not None:
            self._check_blocks(blocks)
        ts = f"{time.time():.6f}"
        message = {"type": "message", "bot_id": "B0OMNIDESK", "text": text or "", "ts": ts}
        if body.get("thread_ts"):
            message["thread_ts"] = body["thread_ts"]
        return JSONResponse({"ok": True, "channel": channel, "ts": ts, "message": message})

    @staticmethod
    def _check_blocks(blocks: Any) -> None:
        if not isinstance(blocks, list) or not 1 <= len(blocks) <= 50:
            raise slack_error("invalid_blocks")
        for block in blocks:
            if block.get("type") != "actions":
                continue
            elements = block.get("elements") or []
            ids = [e.get("action_id") for e in elements]
            if not 1 <= len(elements) <= 25 or len(set(ids)) != len(ids):
                raise slack_error("invalid_blocks")
            for element in elements:
                label = element.get("text") or {}
                if label.get("type") != "plain_text" or not 1 <= len(label.get("text", "")) <= 75:
                    raise slack_error("invalid_blocks")

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
- docs.slack.dev/reference/methods/files.info: ``GET /api/files.info?file=F…``
  (or a form POST), bearer token with scope ``files:read``; ``file`` required
  (``invalid_arguments`` without it); ``file_not_found`` for an unknown id;
  success ``{"ok": true, "file": {id, name, mimetype, size, url_private,
  url_private_download, …}}``.
- docs.slack.dev/messaging/working-with-files#authenticating: the
  ``url_private[_download]`` bytes need the same ``Authorization: Bearer``.
  Without it Slack serves its sign-in page (HTML, status 200) — observed
  behaviour, not a documented error body; the fixture plays it that way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.provider_fakes.base import (
    FakeProvider,
    Injected,
    Recorded,
    Refused,
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
    #: file id → (bytes, mimetype, name) customers shared; files.info and the download serve them.
    files: dict[str, tuple[bytes, str, str]] = field(default_factory=dict)

    def add_file(self, file_id: str, data: bytes, mimetype: str, name: str) -> None:
        self.files[file_id] = (data, mimetype, name)

    def routes(self) -> list[Route]:
        return [
            Route("/api/chat.postMessage", self.endpoint(self.post_message), methods=["POST"]),
            Route("/api/files.info", self.endpoint(self.files_info), methods=["GET", "POST"]),
            Route(
                "/files-pri/{team_file}/download/{name}",
                self.endpoint(self.file_download),
                methods=["GET"],
            ),
        ]

    def _authorised(self, recorded: Recorded) -> None:
        token = bearer(recorded)
        if token is None:
            raise slack_error("not_authed")
        if token != self.bot_token:
            raise slack_error("invalid_auth")

    async def files_info(self, request: Request, recorded: Recorded) -> Response:
        self._authorised(recorded)
        form = recorded.body if isinstance(recorded.body, dict) else {}
        file_id = request.query_params.get("file") or form.get("file")
        if not file_id:
            raise slack_error("invalid_arguments")
        if file_id not in self.files:
            raise slack_error("file_not_found")
        data, mimetype, name = self.files[file_id]
        private = f"{request.base_url}files-pri/T0OMNIDESK-{file_id}/{name}"
        download = f"{request.base_url}files-pri/T0OMNIDESK-{file_id}/download/{name}"
        file = {
            "id": file_id,
            "name": name,
            "mimetype": mimetype,
            "size": len(data),
            "url_private": private,
            "url_private_download": download,
        }
        return JSONResponse({"ok": True, "file": file})

    async def file_download(self, request: Request, recorded: Recorded) -> Response:
        if bearer(recorded) != self.bot_token:
            page = "<!DOCTYPE html><html><body>Sign in to Slack</body></html>"
            raise Refused(HTMLResponse(page), "file download without a valid token")
        file_id = request.path_params["team_file"].rpartition("-")[2]
        if file_id not in self.files:
            raise Refused(Response("Not Found", 404, media_type="text/plain"), "unknown file")
        data, mimetype, _ = self.files[file_id]
        return Response(data, media_type=mimetype)

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
        self._authorised(recorded)
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

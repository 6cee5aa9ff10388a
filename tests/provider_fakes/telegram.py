"""Telegram Bot API fixture: ``sendMessage``.

Follows core.telegram.org/bots/api:
- #making-requests: ``POST /bot<token>/<method>``; every answer is JSON with
  ``ok``; errors carry ``error_code`` and ``description``; an unknown token
  answers 401 ``Unauthorized``, an unknown method 404 ``Not Found``.
- #sendmessage: ``chat_id`` and ``text`` required; text 1-4096 characters
  after entity parsing; ``message_thread_id`` integer; ``reply_markup``.
- #inlinekeyboardmarkup / #inlinekeyboardbutton: ``inline_keyboard`` is an
  array of button rows; a button has ``text`` and exactly one action field;
  ``callback_data`` is 1-64 bytes.
- #responseparameters: flood control answers 429 with
  ``parameters.retry_after`` (seconds).
- A user who blocked the bot: 403 ``Forbidden: bot was blocked by the user``.
Telegram ignores parameters it does not know, so this fixture does too.
This fixture takes JSON bodies only (the API also takes query strings and
form bodies; our sender uses JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.provider_fakes.base import FakeProvider, Injected, Recorded, json_refusal, media_type

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
ACTION_FIELDS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "copy_text",
    "pay",
)


def _error(code: int, description: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description, **extra}


@dataclass
class TelegramFake(FakeProvider):
    name: str = "telegram"
    token: str = "123456:TEST-telegram-bot-token"
    blocked_chats: set[str] = field(default_factory=set)
    missing_chats: set[str] = field(default_factory=set)

    def routes(self) -> list[Route]:
        return [Route("/bot{token}/{method}", self.endpoint(self.call), methods=["POST"])]

    def injected_response(self, failure: Injected) -> Response:
        if failure.kind == "rate_limited":
            body = _error(
                429,
                f"Too Many Requests: retry after {failure.retry_after_s}",
                parameters={"retry_after": failure.retry_after_s},
            )
            return JSONResponse(body, status_code=429)
        if failure.kind == "permanent":
            return JSONResponse(_error(403, "Forbidden: bot was blocked by the user"), 403)
        return JSONResponse(_error(502, "Bad Gateway"), status_code=502)

    async def call(self, request: Request, recorded: Recorded) -> Response:
        if request.path_params["token"] != self.token:
            raise json_refusal(401, _error(401, "Unauthorized"), "bad token")
        if request.path_params["method"] != "sendMessage":
            raise json_refusal(404, _error(404, "Not Found"), "unknown method")
        if media_type(recorded) != "application/json" or not isinstance(recorded.body, dict):
            raise json_refusal(400, _error(400, "Bad Request: message text is empty"), "no JSON")
        return self.send_message(recorded.body)

    def send_message(self, body: dict[str, Any]) -> Response:
        chat_id = body.get("chat_id")
        if chat_id in (None, ""):
            raise json_refusal(400, _error(400, "Bad Request: chat_id is empty"), "no chat_id")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise json_refusal(400, _error(400, "Bad Request: message text is empty"), "no text")
        if len(text) > MAX_TEXT:
            raise json_refusal(400, _error(400, "Bad Request: message is too long"), "too long")
        thread = body.get("message_thread_id")
        if thread is not None and not isinstance(thread, int):
            raise json_refusal(
                400,
                _error(400, "Bad Request: message thread not found"),
                "thread id not an integer",
            )
        self._check_markup(body.get("reply_markup"))
        chat = str(chat_id)
        if chat in self.blocked_chats:
            raise json_refusal(
                403, _error(403, "Forbidden: bot was blocked by the user"), "blocked"
            )
        if chat in self.missing_chats:
            raise json_refusal(400, _error(400, "Bad Request: chat not found"), "no such chat")
        result = {
            "message_id": self.next_id(),
            "from": {
                "id": int(self.token.split(":", 1)[0]),
                "is_bot": True,
                "first_name": "omnidesk",
            },
            "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat, "type": "private"},
            "date": int(datetime.now(UTC).timestamp()),
            "text": text,
        }
        return JSONResponse({"ok": True, "result": result})

    def _check_markup(self, markup: Any) -> None:
        if markup is None:
            return
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise json_refusal(
                400,
                _error(400, "Bad Request: can't parse reply keyboard markup JSON object"),
                "bad reply_markup",
            )
        for button in (b for row in rows for b in row):
            actions = [f for f in ACTION_FIELDS if f in button]
            if not button.get("text") or len(actions) != 1:
                raise json_refusal(
                    400,
                    _error(
                        400,
                        "Bad Request: can't parse inline keyboard "
                        "button: Text buttons are unallowed in the "
                        "inline keyboard",
                    ),
                    "bad button",
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise json_refusal(
                    400, _error(400, "Bad Request: BUTTON_DATA_INVALID"), "callback_data size"
                )

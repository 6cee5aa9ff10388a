"""Telegram Bot API fixture: ``sendMessage``, ``getFile`` and file downloads.

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
- #getfile: ``file_id`` required; "bots can download files of up to 20MB";
  answers a File (#file: ``file_id``, ``file_unique_id``, ``file_size``,
  ``file_path``); an unknown id 400 ``Bad Request: invalid file_id``, a file
  over 20 MB 400 ``Bad Request: file is too big``. The bytes are then at
  ``GET /file/bot<token>/<file_path>`` (404 for an unknown path, 401 for a
  wrong token).
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
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
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
    #: file_id → (file_path, bytes) the "users" sent; getFile serves them.
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def routes(self) -> list[Route]:
        return [
            Route("/bot{token}/{method}", self.endpoint(self.call), methods=["POST"]),
            Route("/file/bot{token}/{path:path}", self.endpoint(self.file), methods=["GET"]),
        ]

    def add_file(self, file_id: str, data: bytes, path: str = "documents/file_0.bin") -> None:
        self.files[file_id] = (path, data)

    async def file(self, request: Request, recorded: Recorded) -> Response:
        if request.path_params["token"] != self.token:
            raise json_refusal(401, _error(401, "Unauthorized"), "bad token")
        for path, data in self.files.values():
            if path == request.path_params["path"]:
                return Response(data, media_type="application/octet-stream")
        raise json_refusal(404, _error(404, "Not Found"), "no such file path")

    def get_file(self, body: dict[str, Any]) -> Response:
        file_id = body.get("file_id")
        if not isinstance(file_id, str) or file_id not in self.files:
            raise json_refusal(400, _error(400, "Bad Request: invalid file_id"), "unknown file")
        path, data = self.files[file_id]
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise json_refusal(400, _error(400, "Bad Request: file is too big"), "over 20 MB")
        result = {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(data),
            "file_path": path,
        }
        return JSONResponse({"ok": True, "result": result})

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
        method = request.path_params["method"]
        if method not in ("sendMessage", "getFile"):
            raise json_refusal(404, _error(404, "Not Found"), "unknown method")
        if media_type(recorded) != "application/json" or not isinstance(recorded.body, dict):
            refusal = "message text is empty" if method == "sendMessage" else "invalid file_id"
            raise json_refusal(400, _error(400, f"Bad Request: {refusal}"), "no JSON")
        if method == "getFile":
            return self.get_file(recorded.body)
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

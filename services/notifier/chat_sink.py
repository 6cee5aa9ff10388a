"""A local Telegram Bot API sink for developers: what `omnidesk dev up` answers chat customers on.

    python -m services.notifier.chat_sink      # 127.0.0.1:9104, token dev-telegram-bot-token

Like the SMTP sink, nothing leaves the machine: ``POST /bot<token>/sendMessage``
(core.telegram.org/bots/api#sendmessage: ``chat_id`` and ``text`` required, 1-4096
characters) answers Telegram's documented success body ``{"ok": true, "result":
Message}`` and logs one line per message (chat, text, buttons); a wrong token answers
401 and a bad request 400 in Telegram's error form. Every message is also appended to
``$OMNIDESK_HOME/notifier/chat-sink.jsonl``, where ``omnidesk demo`` reads what the
customer received. For tests use the strict fixtures in ``tests/provider_fakes``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from libs.common.lifecycle import run_until_stopped
from libs.common.logging import configure_logging
from libs.common.settings import default_home
from services.notifier.webchat import EmbeddedServer, serve_until

log = logging.getLogger("chat_sink")

DEV_TELEGRAM_TOKEN = "dev-telegram-bot-token"  # noqa: S105 - public, development only
DEFAULT_PORT = 9104
MAX_TEXT = 4096


def sink_file() -> Path:
    return default_home() / "notifier" / "chat-sink.jsonl"


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error_code": code, "description": description}, code)


def sink_app(path: Path, token: str = DEV_TELEGRAM_TOKEN) -> Starlette:
    ids = itertools.count(1)

    async def call(request: Request) -> JSONResponse:
        if request.path_params["token"] != token:
            return _error(401, "Unauthorized")
        if request.path_params["method"] != "sendMessage":
            return _error(404, "Not Found")
        try:
            body: dict[str, Any] = await request.json()
        except ValueError:
            return _error(400, "Bad Request: message text is empty")
        text = str(body.get("text") or "")
        if "chat_id" not in body or not 1 <= len(text) <= MAX_TEXT:
            return _error(400, "Bad Request: chat_id and text (1-4096 characters) are required")
        message = {
            "message_id": next(ids),
            "date": int(time.time()),
            "chat": {"id": body["chat_id"], "type": "private"},
            "text": text,
        }
        buttons = [
            b["text"]
            for row in body.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row
        ]
        log.info("telegram chat=%s text=%r buttons=%s", body["chat_id"], text, buttons or "-")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({**body, "message_id": message["message_id"]}, ensure_ascii=False))
            out.write("\n")
        return JSONResponse({"ok": True, "result": message})

    return Starlette(routes=[Route("/bot{token}/{method}", call, methods=["POST"])])


async def serve(stop: asyncio.Event, *, host: str, port: int, path: Path) -> None:
    server = EmbeddedServer(
        uvicorn.Config(sink_app(path), host=host, port=port, log_level="warning")
    )
    log.info(
        "Telegram sink on %s:%d (token %s), messages in %s", host, port, DEV_TELEGRAM_TOKEN, path
    )
    await serve_until(server, stop)


def main() -> None:
    configure_logging("chat_sink", level="INFO", fmt="text")
    port = int(os.environ.get("NOTIFIER_CHAT_SINK_PORT", DEFAULT_PORT))
    run_until_stopped(lambda stop: serve(stop, host="127.0.0.1", port=port, path=sink_file()))


if __name__ == "__main__":
    main()

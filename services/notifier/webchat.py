"""Web chat's outbound side: an outbox per visitor that the site's widget reads.

Web chat has no provider API. A message for a web-chat customer is stored in
``notifier_webchat_outbox`` (the sent-log's database; unique per idempotency
key, so a redelivered notice stores nothing twice) and is "accepted" once
stored. The widget reads it with the visitor token chat_ingest handed it
(:mod:`libs.providers.webchat.visitor`):

- ``GET /webchat/{integration}/messages?after=<id>`` — poll (JSON);
- ``GET /webchat/{integration}/stream`` — Server-Sent Events (``Last-Event-ID``
  resumes), one ``message`` event per stored message.

Both need ``Authorization: Bearer <visitor token>`` (or ``?token=`` for
EventSource, which cannot set headers); a visitor reads only their own messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime

import uvicorn
from sqlalchemy import and_, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from libs.common.events.base import utc_now
from libs.providers.integrations import Integration, Provider
from libs.providers.outbound import OutboundMessage, SendOutcome, SendVerdict
from libs.providers.sending import check_text
from libs.providers.webchat.visitor import InvalidVisitorToken, verify_visitor_token
from services.notifier.sentlog import SentLog, webchat_outbox

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 10_000
PAGE = 100
STREAM_POLL_S = 1.0


class WebchatSender:
    """The :class:`~libs.providers.outbound.ProviderSender` of one web-chat integration."""

    provider = Provider.WEBCHAT.value
    max_text_chars = MAX_TEXT_CHARS

    def __init__(
        self, integration: Integration, sentlog: SentLog, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.integration = integration
        self._sentlog = sentlog
        self._now = clock

    def check(self, message: OutboundMessage, *, now: datetime) -> None:
        check_text(message, provider=self.provider, max_chars=self.max_text_chars)

    async def send(self, message: OutboundMessage) -> SendOutcome:
        [outcome] = await self.send_many([message])
        return outcome

    async def send_many(self, messages: list[OutboundMessage]) -> list[SendOutcome]:
        """Store a poll's messages in one transaction, in the order given (the outbox id
        is the order the widget shows). A message stored before (a redelivery: same
        idempotency key) is not stored again; its first id is reported."""
        if not messages:
            return []
        now = self._now()
        rows = [self._row(message, now) for message in messages]
        ids = await self._sentlog.store_webchat(rows)
        keys = [row["idempotency_key"] for row in rows]
        return [
            SendOutcome(
                verdict=SendVerdict.ACCEPTED,
                provider_message_id=f"webchat-{ids[key]}",
                accepted_at=now,
            )
            for key in keys
        ]

    def _row(self, message: OutboundMessage, now: datetime) -> dict[str, object]:
        body = {
            "text": message.text,
            "quick_replies": [q.model_dump() for q in message.quick_replies],
            "locale": message.locale,
        }
        return {
            "integration": self.integration.id,
            "visitor": message.path.address,
            "idempotency_key": message.idempotency_key,
            "purpose": message.purpose._value_,  # not the value property's Python getter
            "body": json.dumps(body, ensure_ascii=False),
            "created_at": now,
        }


async def messages_after(
    sentlog: SentLog, integration: str, visitor: str, after: int
) -> list[dict[str, object]]:
    query = (
        select(webchat_outbox)
        .where(
            and_(
                webchat_outbox.c.integration == integration,
                webchat_outbox.c.visitor == visitor,
                webchat_outbox.c.id > after,
            )
        )
        .order_by(webchat_outbox.c.id)
        .limit(PAGE)
    )
    async with sentlog.engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        {
            "id": row["id"],
            "purpose": row["purpose"],
            **json.loads(row["body"]),
            "created_at": _iso(row["created_at"]),
        }
        for row in rows
    ]


def _iso(value: datetime) -> str:
    return value.isoformat() if value.tzinfo else value.isoformat() + "Z"


def outbox_app(
    sentlog: SentLog,
    integrations: list[Integration],
    *,
    clock: Callable[[], datetime] = utc_now,
    stop: asyncio.Event | None = None,
) -> Starlette:
    webchats = {i.id: i for i in integrations if i.provider is Provider.WEBCHAT}
    stopping = stop or asyncio.Event()

    def visitor_of(request: Request) -> str | Response:
        integration = webchats.get(request.path_params["integration"])
        if integration is None:
            return JSONResponse({"detail": "unknown web-chat integration"}, status_code=404)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else request.query_params.get("token")
        if not token:
            return JSONResponse({"detail": "visitor token required"}, status_code=401)
        try:
            return verify_visitor_token(integration, token, now=clock()).visitor
        except InvalidVisitorToken as exc:
            return JSONResponse({"detail": str(exc)}, status_code=401)

    def after_of(request: Request) -> int:
        raw = request.query_params.get("after") or request.headers.get("last-event-id") or "0"
        return int(raw) if raw.isdigit() else 0

    async def read_messages(request: Request) -> Response:
        visitor = visitor_of(request)
        if isinstance(visitor, Response):
            return visitor
        items = await messages_after(
            sentlog, request.path_params["integration"], visitor, after_of(request)
        )
        next_after = items[-1]["id"] if items else after_of(request)
        return JSONResponse({"messages": items, "next_after": next_after})

    async def stream_messages(request: Request) -> Response:
        visitor = visitor_of(request)
        if isinstance(visitor, Response):
            return visitor
        integration = request.path_params["integration"]

        async def events() -> AsyncIterator[str]:
            after = after_of(request)
            yield "retry: 3000\n\n"
            while not stopping.is_set() and not await request.is_disconnected():
                for item in await messages_after(sentlog, integration, visitor, after):
                    after = int(item["id"])  # type: ignore[call-overload]
                    data = json.dumps(item, ensure_ascii=False)
                    yield f"id: {after}\nevent: message\ndata: {data}\n\n"
                await asyncio.sleep(STREAM_POLL_S)

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/webchat/{integration}/messages", read_messages, methods=["GET"]),
            Route("/webchat/{integration}/stream", stream_messages, methods=["GET"]),
        ]
    )


class ServerStartError(RuntimeError):
    """An embedded uvicorn could not start: its port is taken, or its app's startup failed."""


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside the service's loop: the service, not uvicorn, owns the signals, and a
    failed start is an exception of the server's task. uvicorn calls ``sys.exit`` there, and
    asyncio lets ``SystemExit`` out of every task at once: the rest of the service (or the
    test that embeds it) would be left running, its clean-up never reached."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().serve(sockets)
        except SystemExit as exc:
            where = sockets[0].getsockname() if sockets else (self.config.host, self.config.port)
            raise ServerStartError(
                f"could not serve on {where[0]}:{where[1]} (uvicorn exit {exc.code}; its log"
                " line just before says why)"
            ) from None


async def serve_until(server: EmbeddedServer, stop: asyncio.Event) -> None:
    """Serve until ``stop``; a server that cannot start raises here at once, not at stop."""
    serving = asyncio.create_task(server.serve())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        server.should_exit = True
        await serving


async def serve_outbox(
    sentlog: SentLog,
    integrations: list[Integration],
    *,
    host: str,
    port: int,
    stop: asyncio.Event,
) -> None:
    """Serve the widget's endpoints until ``stop``; off when no web chat is configured."""
    if port == 0 or not any(i.provider is Provider.WEBCHAT for i in integrations):
        await stop.wait()
        return
    app = outbox_app(sentlog, integrations, stop=stop)
    server = EmbeddedServer(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    log.info("web-chat outbox on %s:%d", host, port)
    await serve_until(server, stop)

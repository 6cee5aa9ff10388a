"""What every provider fixture shares: recording, failure injection, strict checks.

A fixture is a Starlette app that plays one provider's API as its public
reference documents it. It records every request it *accepted* (``accepted``)
and every one it refused (``refused``, with the reason), so a test can say
"the provider received exactly one correct request". Failure knobs make the
next N requests answer the provider's own documented error bodies.
Fixtures that POST status callbacks back after answering (WhatsApp, Twilio)
record our webhook's answers (``status_answers``); a test awaits
``callbacks_done()`` before it reads them, since they come after the send.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Failure = Literal["rate_limited", "unavailable", "permanent"]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, a dict of form fields, or the raw text
    at: datetime
    status: int = 200
    reason: str | None = None  # why it was refused

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class Refused(Exception):
    """A strict check failed: answer the provider's documented error."""

    def __init__(self, response: Response, reason: str) -> None:
        super().__init__(reason)
        self.response = response
        self.reason = reason


@dataclass
class Injected:
    kind: Failure
    retry_after_s: int


@dataclass
class FakeProvider:
    """Base of the eight fixtures; subclasses add routes and documented error bodies."""

    name: str = "provider"
    accepted: list[Recorded] = field(default_factory=list)
    refused: list[Recorded] = field(default_factory=list)
    _failures: deque[Injected] = field(default_factory=deque)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    #: What our webhook answered to each status callback this fixture POSTed back.
    status_answers: list[int] = field(default_factory=list)
    _callbacks_pending: int = 0
    _callbacks_idle: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._callbacks_idle.set()

    # --- knobs ---

    def fail_next(
        self, count: int, kind: Failure = "unavailable", *, retry_after_s: int = 1
    ) -> None:
        """The next ``count`` requests answer ``kind`` in the provider's documented form."""
        self._failures.extend(Injected(kind, retry_after_s) for _ in range(count))

    def reset(self) -> None:
        self.accepted.clear()
        self.refused.clear()
        self._failures.clear()
        self.status_answers.clear()

    def next_id(self) -> int:
        return next(self._ids)

    # --- status callbacks sent after the answer ---

    def callbacks_after_answer(self, send: Callable[[], Awaitable[None]]) -> BackgroundTask:
        """Run ``send`` once the answer is out, as the provider does, and count it as pending.

        Counted here, while the response is still being built, so a test that got
        its answer can never see "nothing pending" before the callbacks have run.
        """
        self._callbacks_pending += 1
        self._callbacks_idle.clear()

        async def run() -> None:
            try:
                await send()
            finally:
                self._callbacks_pending -= 1
                if not self._callbacks_pending:
                    self._callbacks_idle.set()

        return BackgroundTask(run)

    async def callbacks_done(self, timeout_s: float = 10.0) -> None:
        """Wait until every status callback scheduled so far has been answered (or failed)."""
        try:
            async with asyncio.timeout(timeout_s):
                await self._callbacks_idle.wait()
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: {self._callbacks_pending} status callback run(s) still going"
                f" after {timeout_s:.0f} s; answers so far {self.status_answers}"
            ) from None

    # --- to override ---

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def injected_response(self, failure: Injected) -> Response:
        raise NotImplementedError

    # --- plumbing ---

    def app(self) -> Starlette:
        return Starlette(routes=self.routes())

    def endpoint(
        self, handler: Callable[[Request, Recorded], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler: parse and record the request, apply injected failures."""

        async def run(request: Request) -> Response:
            recorded = await record(request)
            if self._failures:
                failure = self._failures.popleft()
                response = self.injected_response(failure)
                return self._refuse(recorded, response, f"injected {failure.kind}")
            try:
                response = await handler(request, recorded)
            except Refused as exc:
                return self._refuse(recorded, exc.response, exc.reason)
            recorded.status = response.status_code
            self.accepted.append(recorded)
            return response

        return run

    def _refuse(self, recorded: Recorded, response: Response, reason: str) -> Response:
        recorded.status = response.status_code
        recorded.reason = reason
        self.refused.append(recorded)
        return response


async def record(request: Request) -> Recorded:
    raw = await request.body()
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body: Any = raw.decode("utf-8", "replace")
    if media == "application/json":
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
    elif media == "application/x-www-form-urlencoded":
        body = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return Recorded(
        method=request.method,
        path=request.url.path,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        at=datetime.now(UTC),
    )


def media_type(recorded: Recorded) -> str:
    return (recorded.header("content-type") or "").split(";", 1)[0].strip().lower()


def json_refusal(
    status: int, body: Any, reason: str, headers: dict[str, str] | None = None
) -> Refused:
    return Refused(JSONResponse(body, status_code=status, headers=headers), reason)


def bearer(recorded: Recorded) -> str | None:
    scheme, _, token = (recorded.header("authorization") or "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None

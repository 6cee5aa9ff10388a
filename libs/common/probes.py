"""``/healthz``, ``/readyz`` and ``/metrics`` without a web framework.

Consumer-only services (assistant, notifier, email_ingest) serve nothing but
these three probes, and FastAPI + uvicorn cost them ~30 MB resident for it.
This server is asyncio's own ``start_server`` with h11 for the HTTP grammar:
h11 is the sans-I/O HTTP/1.1 parser uvicorn itself uses (python-hyper, pure
Python, < 1 MB imported), so request lines, header limits and HEAD framing
are parsed by well-tested code rather than by a regular expression here.
One request per connection (``Connection: close``); probes do not need
keep-alive. HTTP services keep :func:`libs.common.health.health_router` in
their FastAPI apps; both answer from :func:`run_checks` and the same models.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus

import h11
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from libs.common import metrics  # noqa: F401  (registers the shared series)

log = logging.getLogger(__name__)

#: A readiness check raises (or returns False) when its dependency is unreachable.
ReadinessCheck = Callable[[], Awaitable[bool | None]]
ChecksProvider = Callable[[], Mapping[str, ReadinessCheck]]

#: A client that sends nothing, or dribbles, gives up its connection after this.
READ_TIMEOUT_S = 5.0
#: Probe requests are a line and a few headers; anything larger is refused.
MAX_REQUEST_BYTES = 8192
JSON = "application/json"


class HealthStatus(BaseModel):
    status: str
    checks: dict[str, str] = {}


async def run_checks(
    checks: Mapping[str, ReadinessCheck], per_check_s: float = 3.0
) -> HealthStatus:
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            ok = await asyncio.wait_for(check(), per_check_s)
            results[name] = "ok" if ok is not False else "failing"
        except Exception as exc:  # a readiness probe reports; it never raises
            results[name] = f"failing: {type(exc).__name__}"
    healthy = all(v == "ok" for v in results.values())
    return HealthStatus(status="ready" if healthy else "not ready", checks=results)


@dataclass(frozen=True)
class ProbeResponse:
    status: int
    body: bytes
    content_type: str = JSON
    allow: str | None = None


def _error(status: int) -> ProbeResponse:
    return ProbeResponse(status, f'{{"detail":"{HTTPStatus(status).phrase}"}}'.encode())


PROBE_PATHS = ("/healthz", "/readyz", "/metrics")


async def probe_response(method: str, target: str, checks: ChecksProvider) -> ProbeResponse:
    """What to answer to ``method target``; the body is dropped later for HEAD."""
    path = target.split("?", 1)[0]
    if path not in PROBE_PATHS:
        return _error(404)
    if method not in ("GET", "HEAD"):
        return ProbeResponse(405, _error(405).body, allow="GET, HEAD")
    if path == "/healthz":
        return ProbeResponse(200, HealthStatus(status="alive").model_dump_json().encode())
    if path == "/readyz":
        status = await run_checks(checks())
        code = 200 if status.status == "ready" else 503
        return ProbeResponse(code, status.model_dump_json().encode())
    return ProbeResponse(200, generate_latest(), CONTENT_TYPE_LATEST)


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Event:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await reader.read(4096))


async def _send(
    conn: h11.Connection, writer: asyncio.StreamWriter, answer: ProbeResponse, *, head: bool
) -> None:
    headers = [
        ("Content-Type", answer.content_type),
        ("Content-Length", str(len(answer.body))),
        ("Connection", "close"),
    ]
    if answer.allow:
        headers.append(("Allow", answer.allow))
    data = conn.send(h11.Response(status_code=answer.status, headers=headers)) or b""
    if not head:
        data += conn.send(h11.Data(data=answer.body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    writer.write(data)
    await writer.drain()


async def _send_if_possible(
    conn: h11.Connection, writer: asyncio.StreamWriter, answer: ProbeResponse
) -> None:
    """An error answer, unless a response has already started (then just close)."""
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    with contextlib.suppress(ConnectionError, h11.LocalProtocolError):
        await _send(conn, writer, answer, head=False)


class ProbeServer:
    """Answers one request per connection; a bad client never reaches the service."""

    def __init__(self, checks: ChecksProvider) -> None:
        self._checks = checks

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_BYTES)
        try:
            await self._answer(conn, reader, writer)
        except (ConnectionError, TimeoutError):
            pass  # the client went away or stalled; nothing to answer
        except Exception:  # a probe failure must never take the service down
            log.exception("probe request from %s failed", writer.get_extra_info("peername"))
            await _send_if_possible(conn, writer, _error(500))
        finally:
            writer.close()

    async def _answer(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            event = await asyncio.wait_for(_next_event(conn, reader), READ_TIMEOUT_S)
        except h11.RemoteProtocolError as exc:
            await _send_if_possible(conn, writer, _error(exc.error_status_hint))
            return
        if not isinstance(event, h11.Request):
            return  # the connection closed before a request
        method = event.method.decode("ascii", "replace")
        answer = await probe_response(method, event.target.decode("ascii", "replace"), self._checks)
        await _send(conn, writer, answer, head=method == "HEAD")


async def serve_probes(
    checks: ChecksProvider, *, host: str, port: int, stop: asyncio.Event
) -> None:
    """Serve the probes until ``stop`` is set. Port 0 disables them."""
    if port == 0:
        await stop.wait()
        return
    server = await asyncio.start_server(ProbeServer(checks).handle, host, port)
    log.info("probe server on %s:%d", host, port)
    async with server:
        await stop.wait()

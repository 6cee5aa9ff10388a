"""uvicorn with OneWriteHttpToolsProtocol over real loopback sockets: every answer
(headers and body) is one socket write; keep-alive, ``Connection: close`` and
``Expect: 100-continue`` still behave as HTTP/1.1 says."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import uvicorn

from libs.common.webhooks.one_write import OneWriteHttpToolsProtocol
from services.notifier.webchat import EmbeddedServer
from tests.helpers.waiting import eventually
from tests.provider_fakes.server import listening_socket, stop_app

pytestmark = pytest.mark.integration

ANSWER = b'{"accepted":1}'


class CountingSocket:
    """Between the OneWriteTransport and uvicorn's real socket transport: counts writes."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(data)
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def counting_protocol(writes: list[bytes]) -> type[OneWriteHttpToolsProtocol]:
    class Counting(OneWriteHttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(CountingSocket(transport, writes))  # type: ignore[arg-type]

    return Counting


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the body, answers 202 with a fixed JSON body (two ASGI messages, as Starlette)."""
    assert scope["type"] == "http"
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ANSWER))]
    await send({"type": "http.response.start", "status": 202, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER, "more_body": False})


@contextlib.asynccontextmanager
async def uvicorn_serving(options: Callable[[int], dict[str, Any]]) -> AsyncIterator[int]:
    """``echo_app`` served by uvicorn in this loop on a free port with ``options(port)``."""
    with listening_socket() as sock:
        port = sock.getsockname()[1]
        server = EmbeddedServer(uvicorn.Config(echo_app, lifespan="off", **options(port)))
        task = asyncio.create_task(server.serve([sock]))
        try:
            await eventually(lambda: server.started or task.done(), within_s=10)
            if task.done():
                task.result()  # the start failed: ServerStartError
            yield port
        finally:
            await stop_app(server, task)


def serving(writes: list[bytes]) -> contextlib.AbstractAsyncContextManager[int]:
    return uvicorn_serving(
        lambda port: {
            "host": "127.0.0.1",
            "port": port,
            "http": counting_protocol(writes),
            "log_config": None,
            "access_log": False,
        }
    )


def request(extra: bytes = b"", body: bytes = b"{}") -> bytes:
    return (
        b"POST /webhooks/x HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n%s\r\n%s" % (len(body), extra, body)
    )


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head, await reader.readexactly(length)


async def test_keep_alive_answers_are_one_write_each():
    writes: list[bytes] = []
    async with serving(writes) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):
            writer.write(request())
            head, body = await read_response(reader)
            assert head.startswith(b"HTTP/1.1 202 Accepted\r\n") and body == ANSWER
        writer.close()
        await writer.wait_closed()
    assert len(writes) == 3
    assert all(w.startswith(b"HTTP/1.1 202") and w.endswith(b"\r\n\r\n" + ANSWER) for w in writes)


async def test_connection_close_gets_its_whole_answer_before_the_close():
    writes: list[bytes] = []
    async with serving(writes) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request(b"connection: close\r\n"))
        everything = await reader.read()  # until the server closes
        writer.close()
    assert everything.startswith(b"HTTP/1.1 202") and everything.endswith(ANSWER)
    assert b"connection: close" in everything and len(writes) == 1


async def test_expect_100_continue_is_answered_before_the_body_is_sent():
    writes: list[bytes] = []
    async with serving(writes) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        whole = request(b"expect: 100-continue\r\n")
        head, _, body = whole.partition(b"\r\n\r\n")
        writer.write(head + b"\r\n\r\n")
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(body)
        answer_head, answer = await read_response(reader)
        writer.close()
    assert answer_head.startswith(b"HTTP/1.1 202") and answer == ANSWER
    assert len(writes) == 2  # the interim 100, then the answer in one write


async def test_an_idle_keep_alive_connection_is_closed_by_the_server():
    # KeepAlive's one timer per connection, wired into the protocol: after its answers
    # an idle connection is closed when its keep-alive timeout (1 s) is up.
    writes: list[bytes] = []
    options = {"host": "127.0.0.1", "http": counting_protocol(writes), "log_config": None}
    async with uvicorn_serving(
        lambda port: {**options, "port": port, "timeout_keep_alive": 1}
    ) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(2):
            writer.write(request())
            head, body = await read_response(reader)
            assert head.startswith(b"HTTP/1.1 202") and body == ANSWER
        assert await asyncio.wait_for(reader.read(), timeout=30) == b""  # closed by the server
        writer.close()
    assert len(writes) == 2

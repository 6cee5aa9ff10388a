"""The webhook servers' keep-alive timeout: uvicorn with ``server_options`` keeps an
idle connection open past uvicorn's own 5 s, so a proxy (or a load generator) that
reuses it is answered instead of racing the server's close; the timeout still closes
connections idle for longer."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from libs.common.webhooks.serve import DEFAULT_KEEP_ALIVE_S, server_options
from tests.integration.webhooks.test_one_write_server import (
    ANSWER,
    read_response,
    request,
    uvicorn_serving,
)

pytestmark = pytest.mark.integration

UVICORN_DEFAULT_KEEP_ALIVE_S = 5


def serving(keep_alive_s: int) -> contextlib.AbstractAsyncContextManager[int]:
    return uvicorn_serving(
        lambda port: server_options(host="127.0.0.1", port=port, keep_alive_s=keep_alive_s)
    )


async def answered(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(request())
    head, body = await read_response(reader)
    assert head.startswith(b"HTTP/1.1 202")
    return body


def test_the_default_outlasts_uvicorns_and_common_proxies_idle_timeouts():
    assert DEFAULT_KEEP_ALIVE_S > 60 > UVICORN_DEFAULT_KEEP_ALIVE_S
    assert server_options(host="h", port=1)["timeout_keep_alive"] == DEFAULT_KEEP_ALIVE_S


async def test_a_connection_idle_past_uvicorns_default_is_still_answered():
    async with serving(DEFAULT_KEEP_ALIVE_S) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await answered(reader, writer) == ANSWER
        await asyncio.sleep(UVICORN_DEFAULT_KEEP_ALIVE_S + 1)
        assert await answered(reader, writer) == ANSWER
        writer.close()
        await writer.wait_closed()


async def test_a_connection_idle_past_the_setting_is_closed_by_the_server():
    async with serving(1) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await answered(reader, writer) == ANSWER
        async with asyncio.timeout(10):
            assert await reader.read() == b""  # the server closed it
        writer.close()

"""read_body on raw ASGI messages: the bytes and errors Request.stream() gives."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from libs.common.webhooks import MalformedPayload, PayloadTooLarge, read_body


def _request(messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None):
    pending = iter(messages)

    async def receive() -> dict[str, Any]:
        return next(pending)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers or []}
    return Request(scope, receive)


def _body(chunk: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.request", "body": chunk, "more_body": more}


async def test_one_message_and_many_give_the_same_bytes() -> None:
    assert await read_body(_request([_body(b"a=1&b=2")]), limit=100) == b"a=1&b=2"
    chunks = [_body(b"a=1", True), _body(b"", True), _body(b"&b=2", True), _body(b"")]
    assert await read_body(_request(chunks), limit=100) == b"a=1&b=2"
    assert await read_body(_request([_body(b"")]), limit=100) == b""


async def test_a_streamed_body_over_the_limit_is_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        await read_body(_request([_body(b"x" * 8, True), _body(b"x" * 8)]), limit=10)


async def test_a_client_gone_before_the_end_is_a_malformed_payload() -> None:
    request = _request([_body(b"a=1", True), {"type": "http.disconnect"}])
    with pytest.raises(MalformedPayload, match="disconnected"):
        await read_body(request, limit=100)


async def test_a_second_read_is_refused_as_starlette_refuses_it() -> None:
    request = _request([_body(b"a=1")])
    assert await read_body(request, limit=100) == b"a=1"
    with pytest.raises(RuntimeError, match="Stream consumed"):
        await read_body(request, limit=100)


async def test_a_body_read_before_is_replayed() -> None:
    request = _request([_body(b"a=1", True), _body(b"&b=2")])
    assert await request.body() == b"a=1&b=2"
    assert await read_body(request, limit=100) == b"a=1&b=2"

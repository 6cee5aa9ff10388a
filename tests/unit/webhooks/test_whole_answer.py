"""A JSON answer handed to uvicorn's cycle in one call (``whole_answer.answer_whole``)
against uvicorn's own ``send`` of Starlette's two messages: the same bytes written, the
same cycle state after, the same calls (close, ``on_response``); anything the one call
does not do alike goes through ``send``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from libs.common.webhooks.answers import JsonAnswer, json_response
from libs.common.webhooks.whole_answer import answer_whole, whole_cycle
from libs.providers.webhooks import WebhookAck


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = 0
        self.paused = False

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed += 1

    def is_closing(self) -> bool:
        return self.closed > 0

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


def _cycle(
    *, keep_alive: bool = True, defaults: list[tuple[bytes, bytes]] | None = None, **state: Any
) -> tuple[RequestResponseCycle, _Transport, list[str]]:
    transport = _Transport()
    responded: list[str] = []
    cycle = RequestResponseCycle(
        scope={"type": "http", "method": "POST", "path": "/webhooks/webchat/bench"},  # type: ignore[typeddict-item]
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=[(b"date", b"Wed, 02 Dec 2026 02:30:00 GMT")]
        if defaults is None
        else defaults,
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=keep_alive,
        on_response=lambda: responded.append("done"),
    )
    for name, value in state.items():
        setattr(cycle, name, value)
    return cycle, transport, responded


def _state(cycle: RequestResponseCycle) -> dict[str, Any]:
    state = dict(vars(cycle))
    state["message_event"] = cycle.message_event.is_set()
    for name in ("transport", "flow", "on_response", "logger", "access_logger", "scope"):
        state.pop(name)
    return state


async def _by_send(response: Any, **options: Any) -> tuple[dict[str, Any], bytes, int, list[str]]:
    cycle, transport, responded = _cycle(**options)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    await response(cycle.scope, receive, cycle.send)
    return _state(cycle), b"".join(transport.written), transport.closed, responded


def _by_one_call(response: Any, **options: Any) -> tuple[dict[str, Any], bytes, int, list[str]]:
    cycle, transport, responded = _cycle(**options)
    found = whole_cycle(cycle.send, response)
    assert found is cycle
    answer_whole(found, response)
    return _state(cycle), b"".join(transport.written), transport.closed, responded


ids = st.text(st.characters(codec="utf-8"), max_size=20)


@settings(max_examples=200)
@given(
    accepted=st.integers(0, 10**12),
    event_ids=st.lists(ids, max_size=4),
    status=st.sampled_from([200, 201, 202, 400, 503]),
    keep_alive=st.booleans(),
    defaults=st.sampled_from(
        [
            [(b"date", b"Wed, 02 Dec 2026 02:30:00 GMT")],
            [],
            [(b"date", b"Wed, 02 Dec 2026 02:30:01 GMT"), (b"x-desk", b"omnidesk")],
        ]
    ),
)
def test_the_one_call_answers_as_uvicorns_send(
    accepted: int,
    event_ids: list[str],
    status: int,
    keep_alive: bool,
    defaults: list[tuple[bytes, bytes]],
) -> None:
    ack = WebhookAck(accepted=accepted, duplicates=0, ignored=0, event_ids=event_ids)
    response = json_response(ack, status)
    assert type(response) is JsonAnswer
    options = {"keep_alive": keep_alive, "defaults": defaults}
    expected = asyncio.run(_by_send(response, **options))
    assert _by_one_call(response, **options) == expected


@pytest.mark.parametrize(
    ("state", "defaults"),
    [
        ({"response_started": True}, None),
        ({"disconnected": True}, None),
        ({"access_log": True}, None),
        ({"chunked_encoding": False}, None),
        ({}, [(b"Date", b"x")]),  # not lower case: uvicorn lower-cases it
        ({}, [(b"connection", b"close")]),
        ({}, [(b"content-length", b"3")]),
        ({}, [(b"x-bad", b"a\nb")]),
        ({}, [(b"bad name", b"a")]),
    ],
)
def test_what_send_would_do_otherwise_goes_through_send(
    state: dict[str, Any], defaults: list[tuple[bytes, bytes]] | None
) -> None:
    cycle, _, _ = _cycle(defaults=defaults, **state)
    response = json_response(WebhookAck(accepted=1, duplicates=0, ignored=0, event_ids=["e"]))
    assert whole_cycle(cycle.send, response) is None


def test_other_answers_and_sends_go_through_send() -> None:
    cycle, transport, _ = _cycle()
    ack = WebhookAck(accepted=1, duplicates=0, ignored=0, event_ids=["e"])
    answer = json_response(ack)
    assert whole_cycle(cycle.send, json_response(ack, 204)) is None  # Starlette's Response
    answer.headers["x-more"] = "1"
    assert whole_cycle(cycle.send, answer) is None  # a header added
    transport.paused = True

    async def send(message: Any) -> None:  # not a uvicorn cycle's
        pass

    assert whole_cycle(send, json_response(ack)) is None
    cycle.flow.write_paused = True
    assert whole_cycle(cycle.send, json_response(ack)) is None

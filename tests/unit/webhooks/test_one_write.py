"""OneWriteTransport: what one loop turn writes reaches the socket as one write."""

from __future__ import annotations

import asyncio

from libs.common.webhooks.one_write import KeepAlive, OneWriteTransport
from tests.helpers.manual_loop import ManualLoop


class RecordingTransport:
    """The socket side: records each write and whether it was closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.extra = {"peername": ("127.0.0.1", 5000)}

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.extra.get(name, default)


async def _turn() -> None:
    await asyncio.sleep(0)


async def test_header_and_body_of_one_turn_become_one_write():
    socket = RecordingTransport()
    transport = OneWriteTransport(socket, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n")
    transport.write(bytearray(b"{}"))
    assert socket.writes == []  # not before the turn ends
    await _turn()
    assert socket.writes == [b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}"]


async def test_each_turn_is_written_in_order():
    socket = RecordingTransport()
    transport = OneWriteTransport(socket, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    await _turn()
    transport.write(b"head ")
    transport.write(b"body")
    await _turn()
    await _turn()  # an idle turn writes nothing
    assert socket.writes == [b"HTTP/1.1 100 Continue\r\n\r\n", b"head body"]


async def test_close_writes_what_is_pending_first():
    socket = RecordingTransport()
    transport = OneWriteTransport(socket, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"head ")
    transport.write(b"body")
    transport.close()
    await _turn()  # the scheduled flush finds nothing left
    assert socket.writes == [b"head body"] and socket.closed


async def test_nothing_is_written_to_a_transport_already_closing():
    socket = RecordingTransport()
    transport = OneWriteTransport(socket, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"late answer")
    socket.closed = True  # the peer went away in the same turn
    await _turn()
    assert socket.writes == []


async def test_everything_else_is_the_wrapped_transport():
    socket = RecordingTransport()
    transport = OneWriteTransport(socket, asyncio.get_running_loop())  # type: ignore[arg-type]
    assert transport.get_extra_info("peername") == ("127.0.0.1", 5000)
    assert transport.is_closing() is False


class Closed:
    def __init__(self) -> None:
        self.times = 0

    def __call__(self) -> None:
        self.times += 1


async def test_an_idle_connection_closes_its_timeout_after_its_last_answer():
    loop, closed = ManualLoop(), Closed()
    keep_alive = KeepAlive(loop, 95, closed)  # type: ignore[arg-type]
    keep_alive.idle()  # an answer at 100
    loop.run_until(194.9)
    assert closed.times == 0
    loop.run_until(195.0)
    assert closed.times == 1


async def test_one_timer_serves_every_request_of_a_busy_connection():
    loop, closed = ManualLoop(), Closed()
    keep_alive = KeepAlive(loop, 95, closed)  # type: ignore[arg-type]
    for n in range(1, 1000):  # a request every 100 ms: never idle 95 s
        keep_alive.busy()
        keep_alive.idle()
        loop.run_until(100.0 + n * 0.1)
    assert closed.times == 0
    assert loop.pending_timers == 1
    last_answer = loop.now - 0.1
    loop.run_until(last_answer + 94.9)
    assert closed.times == 0
    loop.run_until(last_answer + 95.0)
    assert closed.times == 1


async def test_a_connection_answering_when_the_timer_fires_is_not_closed():
    loop, closed = ManualLoop(), Closed()
    keep_alive = KeepAlive(loop, 95, closed)  # type: ignore[arg-type]
    keep_alive.idle()
    loop.run_until(150.0)
    keep_alive.busy()  # a request that takes its time (arrives slowly, waits for Kafka)
    loop.run_until(300.0)
    assert closed.times == 0 and loop.pending_timers == 0
    keep_alive.idle()  # its answer: idle from 300
    loop.run_until(394.9)
    assert closed.times == 0
    loop.run_until(395.0)
    assert closed.times == 1


async def test_a_lost_connection_leaves_no_timer():
    loop, closed = ManualLoop(), Closed()
    keep_alive = KeepAlive(loop, 95, closed)  # type: ignore[arg-type]
    keep_alive.idle()
    keep_alive.stop()
    assert loop.pending_timers == 0
    loop.run_until(1000.0)
    assert closed.times == 0


async def test_is_closing_is_the_transports():
    socket = RecordingTransport()
    transport = OneWriteTransport(socket, asyncio.get_running_loop())  # type: ignore[arg-type]
    assert transport.is_closing() is False
    socket.closed = True
    assert transport.is_closing() is True

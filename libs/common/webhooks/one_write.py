"""uvicorn's httptools protocol writing each response in one socket write, not two.

uvicorn writes the status line and headers when the app sends
``http.response.start`` and the body on ``http.response.body``: two
``transport.write`` calls, and since the socket is idle each goes straight to
a ``send`` syscall — two syscalls and two TCP segments per webhook answer, and
the client reads twice. No ASGI message shape avoids it (the headers are
written before the body message exists). So the protocol hands uvicorn a
transport that gathers what is written during one turn of the event loop and
passes it on in one write at the end of that turn. Starlette sends start and
body from the same task step, so a response becomes one write; nothing waits
longer than the current loop turn, and ``close`` writes what is pending first.

The protocol also keeps its keep-alive timeout with one timer per connection
(:class:`KeepAlive`) instead of uvicorn's timer per answer, cancelled by the next
request's first bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class OneWriteTransport:
    """Wraps a transport: writes made in one loop turn reach it as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():  # the peer went away: nothing to write to
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        # Asked once per answer (on_response_complete): through ``__getattr__`` it cost a
        # failed lookup and an AttributeError made and dropped first, every time.
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, pause_reading, get_extra_info, …) is the transport's.
        return getattr(self._transport, name)


class KeepAlive:
    """Closes an idle keep-alive connection ``timeout_s`` after its last answer, with one
    loop timer per connection, set again when it fires before the connection has been
    idle that long, instead of one timer per answer.

    uvicorn sets a timer (``call_later``) when each answer completes and cancels it
    when the next request's first bytes arrive: a libuv timer handle made, started,
    stopped and closed per request, ~2 µs of CPU (uvloop, timeit, load ~13), for a
    timeout (95 s here) that a busy connection never reaches. Here a request only
    marks the connection busy and an answer marks the moment it went idle; the one
    timer, when it fires, closes the connection if it has been idle ``timeout_s`` by
    then, and otherwise is set for when it will have been (or, while a request is
    being answered, waits for its answer to be set again). The connection closes
    when uvicorn's would.
    """

    #: A timer may fire up to this much before its time (libuv rounds to milliseconds).
    EARLY_S = 0.001

    def __init__(
        self, loop: asyncio.AbstractEventLoop, timeout_s: float, close: Callable[[], None]
    ) -> None:
        self._loop = loop
        self._timeout_s = timeout_s
        self._close = close
        self._idle_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def busy(self) -> None:
        """A request is arriving or being answered: the connection is not idle."""
        self._idle_since = None

    def idle(self) -> None:
        """An answer went out and no request waits: idle from now."""
        self._idle_since = now = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_at(now + self._timeout_s, self._fire)

    def stop(self) -> None:
        """The connection is gone: no timer outlives it."""
        self._idle_since = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        if self._idle_since is None:  # busy: the answer's ``idle`` sets the timer again
            return
        due = self._idle_since + self._timeout_s
        if due > self._loop.time() + self.EARLY_S:
            self._timer = self._loop.call_at(due, self._fire)
            return
        self._close()


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` over a :class:`OneWriteTransport` (uvicorn's ``http=`` option),
    its keep-alive timeout kept by :class:`KeepAlive`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._keep_alive = KeepAlive(
            self.loop, self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        wrapped = OneWriteTransport(transport, self.loop)
        super().connection_made(wrapped)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._keep_alive.stop()

    def _unset_keepalive_if_required(self) -> None:
        # uvicorn calls this when data arrives, an answer completes or the connection is
        # lost; it cancelled the timer of the last answer.
        self._keep_alive.busy()

    def on_response_complete(self) -> None:
        # uvicorn's, but for the keep-alive timeout: count the request; unless closing,
        # read again and start the next pipelined request, or else the connection idles.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._keep_alive.busy()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._keep_alive.idle()

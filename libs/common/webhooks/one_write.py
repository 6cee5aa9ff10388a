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
"""

from __future__ import annotations

import asyncio
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

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, pause_reading, get_extra_info, …) is the transport's.
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` over a :class:`OneWriteTransport` (uvicorn's ``http=`` option)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped = OneWriteTransport(transport, self.loop)
        super().connection_made(wrapped)  # type: ignore[arg-type]

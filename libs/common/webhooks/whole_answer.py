"""A webhook's JSON answer handed to uvicorn's httptools cycle in one call.

Sent as ASGI, an answer (``JsonAnswer``) crossed Starlette's ``Response.__call__`` and
two ``send`` coroutines of uvicorn's ``RequestResponseCycle``: two message dicts, the
status line and each header (the ``date`` and the answer's two) checked by two regular
expressions, lower-cased and compared with three names, ``Content-Length`` parsed back
from its text, then the body's own checks. Here the fast path's answer goes to the
cycle directly when nothing of that can change what uvicorn does: the cycle is
httptools', not started, connected, its writes not paused, no access log; the answer a
``JsonAnswer`` (its two headers ours, plain); the server's default headers checked once
each time the server replaces them (once a second, the ``date``). Then this makes the
cycle's state changes ``send`` makes for the two messages (started, no 100-continue,
the length expected and met, complete, the message event set, closed when not kept
alive, ``on_response``) and writes the same bytes: the head and the body, in one write
(uvicorn's two writes reach the socket as one anyway, ``one_write.py``). Anything else
goes through ``await response(scope, receive, send)`` as before. One difference in time
only: over a transport that pauses writing at the head's write (not ``OneWriteTransport``,
which writes at the end of the loop's turn), ``send`` would wait for the drain before
writing the body; here the body is in the same write, the same bytes on the wire.
``tests/unit/webhooks/test_whole_answer.py`` holds the cycle's state and the bytes to
uvicorn's own ``send``.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    RequestResponseCycle,
)

from libs.common.webhooks.answers import JsonAnswer

#: header names whose value changes what uvicorn's ``send`` does (length, chunking, close)
_MEANINGFUL = frozenset({b"content-length", b"transfer-encoding", b"connection"})


class _CheckedHeaders:
    """The server's default headers last found plain, by identity (uvicorn makes a new
    list when they change: the ``date``, once a second)."""

    headers: list[tuple[bytes, bytes]] | None = None
    head: bytes = b""


_checked = _CheckedHeaders()


def _plain_defaults(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether uvicorn's ``send`` writes ``headers`` as given and nothing else follows
    from them: valid names and values (its two regular expressions), lower case, none
    of the names that set the length, the chunking or the connection's close."""
    for name, value in headers:
        if HEADER_RE.search(name) or HEADER_VALUE_RE.search(value):
            return False
        if name != name.lower() or name in _MEANINGFUL:
            return False
    return True


def whole_cycle(send: Any, response: object) -> RequestResponseCycle | None:
    """The uvicorn cycle ``send`` belongs to, when :func:`answer_whole` may answer
    ``response`` on it; None where the answer must go through ``send`` as ASGI."""
    cycle = getattr(send, "__self__", None)
    if (
        type(cycle) is not RequestResponseCycle
        or type(response) is not JsonAnswer
        or len(response.raw_headers) != 2  # JsonAnswer's own two, none added
        or cycle.response_started
        or cycle.disconnected
        or cycle.access_log
        or cycle.chunked_encoding is not None
        or cycle.flow.write_paused
        or cycle.scope["method"] == "HEAD"
    ):
        return None
    defaults = cycle.default_headers
    if defaults is not _checked.headers:
        if not _plain_defaults(defaults):
            return None
        _checked.head = b"".join(b"%s: %s\r\n" % (name, value) for name, value in defaults)
        _checked.headers = defaults
    return cycle


def answer_whole(cycle: RequestResponseCycle, response: JsonAnswer) -> None:
    """What ``await response(scope, receive, cycle.send)`` does for a cycle and an answer
    :func:`whole_cycle` accepted: the same state changes, the same bytes written."""
    body = response.body
    length = len(body)
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    cycle.expected_content_length = 0  # the body's length, then met by the body
    cycle.chunked_encoding = False
    close = b"" if cycle.keep_alive else b"connection: close\r\n"
    cycle.transport.write(
        b"%s%scontent-length: %d\r\ncontent-type: application/json\r\n%s\r\n%s"
        % (STATUS_LINE[response.status_code], _checked.head, length, close, body)
    )
    cycle.response_complete = True
    cycle.message_event.set()
    if not cycle.keep_alive:
        cycle.transport.close()
    cycle.on_response()

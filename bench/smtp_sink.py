"""The benches' SMTP server (aiosmtpd) in a process of its own.

In the bench process it shared one interpreter (and its GIL) with the bench's
Kafka readers and bookkeeping, and its CPU could not be told apart from theirs.
As its own process it is what a real relay is to the notifier — another
process — and ``bench.cpu_accounting`` sees its cost by pid.

The bench talks to it over a pipe: ``count()`` (mails so far and the last
arrival), ``take()`` (arrival times and bytes, then forgotten; only when
started with ``keep=True``).

Its event loop is uvloop, as the services' servers run on (uvicorn): the SMTP
conversation is unchanged — aiosmtpd's own parsing, four replies per mail
(MAIL, RCPT, DATA, end of data) — and the sink's CPU per mail is ~10 % lower
than on asyncio's default loop (6,000 mails over four connections, three
runs each, 271 → 240 µs; most of the rest is the socket calls themselves).

Its EHLO offers PIPELINING (RFC 2920), as Postfix and Exim do
(``services.notifier.smtp_sink.OffersPipelining``): the notifier then sends a mail's
content and the next mail's MAIL, RCPT and DATA in one write, as it would to such a
relay, and the sink answers each such group in one write, as Postfix's smtpd does
(``services.notifier.smtp_sink.PipelinedReplies``; aiosmtpd's own protocol writes
every reply at once).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from types import TracebackType

from services.notifier.smtp_sink import OffersPipelining, PipelinedRepliesController

START_TIMEOUT_S = 30.0


@dataclass
class _Handler(OffersPipelining):
    keep: bool
    count: int = 0
    last_at: float = 0.0
    arrivals: list[tuple[float, bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        received = time.time()
        with self.lock:
            self.count += 1
            self.last_at = received
            if self.keep:
                self.arrivals.append((received, envelope.original_content or envelope.content))
        return "250 OK"


def _serve(conn: Connection, keep: bool) -> None:
    import uvloop

    from tools.testing.system import free_port

    handler = _Handler(keep)
    port = free_port()
    controller = PipelinedRepliesController(
        handler, hostname="127.0.0.1", port=port, loop=uvloop.new_event_loop()
    )
    controller.start()
    conn.send(port)
    try:
        while True:
            command = conn.recv()
            with handler.lock:
                if command == "count":
                    conn.send((handler.count, handler.last_at))
                elif command == "take":
                    taken, handler.arrivals = handler.arrivals, []
                    conn.send(taken)
                else:
                    break
    except EOFError:
        pass  # the bench went away
    finally:
        controller.stop()


class SmtpSink:
    """``with SmtpSink(keep=...) as sink:`` — ``sink.port``, ``sink.pid``."""

    def __init__(self, *, keep: bool) -> None:
        self.keep = keep
        self._conn, child = mp.Pipe()
        self._process = mp.get_context("spawn").Process(
            target=_serve, args=(child, keep), name="bench-smtp-sink", daemon=True
        )
        self.port = 0

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def __enter__(self) -> SmtpSink:
        self._process.start()
        if not self._conn.poll(START_TIMEOUT_S):
            self._process.kill()
            raise RuntimeError("the SMTP sink process did not start")
        self.port = self._conn.recv()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def count(self) -> int:
        return self.counted()[0]

    def counted(self) -> tuple[int, float]:
        """Mails received so far and the wall-clock time of the last one (0 before any)."""
        self._conn.send("count")
        return self._conn.recv()

    def take(self) -> list[tuple[float, bytes]]:
        self._conn.send("take")
        return self._conn.recv()

"""The benches' SMTP server, in a process of its own: compiled (Go) when built, else aiosmtpd.

It stands in for the desk's mail server, which in production runs on another host:
measurement apparatus, like the load generator (``bench.vegeta``). As its own
process it is what a real relay is to the notifier, and ``bench.cpu_accounting``
sees its cost by pid. Why compiled: in the 100,000-interaction backlog bench the
aiosmtpd sink took 0.24 CPU-s per 1,000 interactions (~220 µs a mail, 19 % of the
two cores) while the whole machine has ~1.1 CPU-s per 1,000 to meet 60 s — a
stand-in that costs a fifth of the machine distorts every figure it is in. Measured
on a machine ~2.5x slower than that one and busy (load 11-18), kinds interleaved:
the same 6,000 mails (3.2 KB) through the notifier's pool (four connections,
pipelined), six runs each: the sink's CPU 48-97 µs a mail (median 56) compiled
against 708-832 µs (median 751) for aiosmtpd; ``backlog_recovery --count 20000``,
three runs each: the sink's 0.085-0.103 CPU-s per 1,000 interactions against
0.72-0.86.

Two kinds, the same Python API (``SmtpSink``), chosen by ``kind=`` or the
``BENCH_SMTP_SINK`` environment variable (``go`` / ``aiosmtpd``), else ``go`` when
its binary is found (``BENCH_SMTPSINK_BIN``, ``smtpsink`` on PATH, or
``bench/.tools/bin``; ``python -m bench.smtp_sink install`` builds it, needs ``go``):

- ``go`` — ``bench/smtpsink`` (standard library only): the same replies, codes and
  sequence errors as aiosmtpd's (its texts), the same EHLO extensions, DATA
  dot-unstuffed (RFC 5321 §4.5.2); the bench reads it over stdin/stdout (frames
  described in its ``control``);
- ``aiosmtpd`` — aiosmtpd on uvloop, as the services' servers run (uvicorn); over a
  pipe. uvloop made its CPU per mail ~10 % lower than asyncio's loop (6,000 mails
  over four connections, three runs each, 271 → 240 µs; most of the rest is the
  socket calls themselves).

Both offer PIPELINING (RFC 2920), as Postfix and Exim do
(``services.notifier.smtp_sink.OffersPipelining``): the notifier then sends a mail's
content and the next mail's MAIL, RCPT and DATA in one write, as it would to such a
relay, and the sink answers each such group in one write, as Postfix's smtpd does
(``services.notifier.smtp_sink.PipelinedReplies``; aiosmtpd's own protocol writes
every reply at once).

The bench asks ``count()`` / ``counted()`` (mails so far and the wall-clock time the
last one's end of data was read) and ``take()`` (arrival times and bytes as received
after dot-unstuffing, then forgotten; only when started with ``keep=True``).

    python -m bench.smtp_sink install
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Protocol

from bench.common import TOOLS, find_tool, go_build
from services.notifier.smtp_sink import OffersPipelining, PipelinedRepliesController

START_TIMEOUT_S = 30.0
#: aiosmtpd's default ``data_size_limit`` (2**25), offered as SIZE by both kinds.
SIZE_LIMIT = 2**25
#: ``go`` or ``aiosmtpd``; unset: ``go`` when built.
KIND_ENV = "BENCH_SMTP_SINK"
BINARY_ENV = "BENCH_SMTPSINK_BIN"
SOURCE = Path(__file__).resolve().parent / "smtpsink"
BINARY_NAME = "smtpsink"

Kind = Literal["go", "aiosmtpd"]
KINDS: tuple[Kind, ...] = ("go", "aiosmtpd")


def find() -> Path | None:
    """The compiled sink if it is built (``BENCH_SMTPSINK_BIN``, on PATH, bench/.tools/bin)."""
    return find_tool(BINARY_NAME, BINARY_ENV)


def install(target: Path = TOOLS) -> Path:
    """``go build`` of ``bench/smtpsink`` into ``target``."""
    return go_build(SOURCE, BINARY_NAME, target)


def stale(binary: Path) -> bool:
    """Built before its source last changed (rebuild: ``python -m bench.smtp_sink install``)."""
    built = binary.stat().st_mtime
    return any(source.stat().st_mtime > built for source in SOURCE.iterdir())


def choose(kind: str | None = None) -> Kind:
    """``kind``, else ``BENCH_SMTP_SINK``, else ``go`` when its binary is found."""
    wanted = kind or os.environ.get(KIND_ENV) or None
    if wanted is None:
        return "go" if find() is not None else "aiosmtpd"
    if wanted not in KINDS:
        raise ValueError(f"SMTP sink kind {wanted!r}: expected one of {', '.join(KINDS)}")
    return wanted  # type: ignore[return-value]


class _Backend(Protocol):
    @property
    def pid(self) -> int: ...

    def start(self) -> int: ...
    def counted(self) -> tuple[int, float]: ...
    def take(self) -> list[tuple[float, bytes]]: ...
    def stop(self) -> None: ...


class SmtpSink:
    """``with SmtpSink(keep=...) as sink:`` — ``sink.port``, ``sink.pid``, ``sink.kind``.

    ``size_limit``: offered as SIZE (RFC 1870) and enforced (552) by either kind;
    ``binary``: the compiled sink to run (default: :func:`find`)."""

    def __init__(
        self,
        *,
        keep: bool,
        kind: str | None = None,
        size_limit: int = SIZE_LIMIT,
        binary: Path | None = None,
    ) -> None:
        self.keep = keep
        self.kind: Kind = choose(kind)
        self.port = 0
        self._lock = threading.Lock()
        self._backend: _Backend
        if self.kind == "go":
            self._backend = _GoSink(_binary(binary), keep, size_limit)
        else:
            self._backend = _AiosmtpdSink(keep, size_limit)

    @property
    def pid(self) -> int:
        return self._backend.pid

    def __enter__(self) -> SmtpSink:
        self.port = self._backend.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._backend.stop()

    def count(self) -> int:
        return self.counted()[0]

    def counted(self) -> tuple[int, float]:
        """Mails received so far and the wall-clock time of the last one (0 before any)."""
        with self._lock:
            return self._backend.counted()

    def take(self) -> list[tuple[float, bytes]]:
        with self._lock:
            return self._backend.take()


def _binary(given: Path | None) -> Path:
    binary = given or find()
    if binary is None:
        raise RuntimeError("the compiled SMTP sink is not built: python -m bench.smtp_sink install")
    if binary.parent == TOOLS and stale(binary):
        print(f"warning: {binary} is older than {SOURCE}: rebuild it", file=sys.stderr)
    return binary


# --- go: bench/smtpsink, over stdin/stdout ------------------------------------------------

_COUNTED = struct.Struct(">Qq")  # mails, last arrival (Unix ns)
_TAKEN = struct.Struct(">I")  # mails that follow
_ARRIVAL = struct.Struct(">qI")  # arrival (Unix ns), length of the bytes that follow


class _GoSink:
    def __init__(self, binary: Path, keep: bool, size_limit: int) -> None:
        self._command = [str(binary), f"-size={size_limit}"] + (["-keep"] if keep else [])
        self._process: subprocess.Popen[bytes] | None = None
        self.pid = 0

    def start(self) -> int:
        process = self._process = subprocess.Popen(
            self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.pid = process.pid
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        if not ready:
            self.stop()
            raise RuntimeError("the SMTP sink process did not start")
        head = self._read(6)
        if head[:4] != b"SINK":
            self.stop()
            raise RuntimeError(f"the SMTP sink process said {head!r}")
        return int.from_bytes(head[4:], "big")

    def counted(self) -> tuple[int, float]:
        self._ask(b"c")
        count, last_ns = _COUNTED.unpack(self._read(_COUNTED.size))
        return count, last_ns / 1e9

    def take(self) -> list[tuple[float, bytes]]:
        self._ask(b"t")
        (count,) = _TAKEN.unpack(self._read(_TAKEN.size))
        taken = []
        for _ in range(count):
            at_ns, length = _ARRIVAL.unpack(self._read(_ARRIVAL.size))
            taken.append((at_ns / 1e9, self._read(length)))
        return taken

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(BrokenPipeError, OSError):
            self._stdin().close()  # end of stdin: the sink exits
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def _ask(self, request: bytes) -> None:
        stdin = self._stdin()
        stdin.write(request)
        stdin.flush()

    def _read(self, size: int) -> bytes:
        assert self._process is not None and self._process.stdout is not None
        data = self._process.stdout.read(size)
        if len(data) != size:
            raise RuntimeError(f"the SMTP sink process ended (exit {self._process.poll()})")
        return data

    def _stdin(self) -> IO[bytes]:
        assert self._process is not None and self._process.stdin is not None
        return self._process.stdin


# --- aiosmtpd, over a multiprocessing pipe -------------------------------------------------


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


def _serve(conn: Connection, keep: bool, size_limit: int) -> None:
    import uvloop

    from tools.testing.system import free_port

    handler = _Handler(keep)
    port = free_port()
    controller = PipelinedRepliesController(
        handler,
        hostname="127.0.0.1",
        port=port,
        loop=uvloop.new_event_loop(),
        data_size_limit=size_limit,
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


class _AiosmtpdSink:
    def __init__(self, keep: bool, size_limit: int) -> None:
        self._conn, child = mp.Pipe()
        self._process = mp.get_context("spawn").Process(
            target=_serve, args=(child, keep, size_limit), name="bench-smtp-sink", daemon=True
        )

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def start(self) -> int:
        self._process.start()
        if not self._conn.poll(START_TIMEOUT_S):
            self._process.kill()
            raise RuntimeError("the SMTP sink process did not start")
        return self._conn.recv()

    def counted(self) -> tuple[int, float]:
        self._conn.send("count")
        return self._conn.recv()

    def take(self) -> list[tuple[float, bytes]]:
        self._conn.send("take")
        return self._conn.recv()

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


if __name__ == "__main__":
    if sys.argv[1:] == ["install"]:
        print(install())
    else:
        raise SystemExit("usage: python -m bench.smtp_sink install")

"""A TCP relay between email_ingest and Dovecot that stamps the IMAP lines a latency
hop is measured by (``bench.imap_latency --hops``).

Server to client: every ``* n EXISTS`` (when the service learnt of mail n) and the
``+`` continuation that starts an IDLE. Client to server: each command's name (``IDLE``,
``DONE``, ``UID FETCH``...). Stamps are ``time.time()``, to compare with Kafka record
timestamps and the event's ``ce_time``. The relay costs each chunk one loop turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import statistics
import time
from bisect import bisect_right
from dataclasses import dataclass, field

_EXISTS = re.compile(rb"^\* (\d+) EXISTS", re.MULTILINE)
#: A client line: "<tag> [UID] <COMMAND>" or the bare "DONE" that ends an IDLE.
_COMMAND = re.compile(rb"^(?:DONE|[A-Za-z0-9.]+ (?:UID )?([A-Za-z]+))", re.IGNORECASE)


@dataclass
class WireStamps:
    exists: list[tuple[float, int]] = field(default_factory=list)  # (at, message count)
    commands: list[tuple[float, str]] = field(default_factory=list)  # (at, "IDLE", "DONE"...)

    def first_exists(self, count: int, after: float) -> float | None:
        """When the service was first told the folder holds ``count`` mails or more."""
        return next((at for at, n in self.exists if n >= count and at >= after), None)

    def state_at(self, at: float) -> str:
        """What the service was doing at ``at``: the last command it had sent."""
        index = bisect_right([stamp for stamp, _ in self.commands], at)
        return self.commands[index - 1][1] if index else "(none)"

    def step_figures(self) -> dict[str, dict[str, float]]:
        """The time from each command the service sent to its next one, by the pair
        (``"STORE -> STORE"``: one mail of a batch to the next), median and max in ms
        with how often it happened."""
        steps: dict[str, list[float]] = {}
        for (at, name), (next_at, next_name) in itertools.pairwise(self.commands):
            steps.setdefault(f"{name} -> {next_name}", []).append((next_at - at) * 1000)
        return {
            step: {
                "n": len(ms),
                "median": round(statistics.median(ms), 2),
                "max": round(max(ms), 2),
            }
            for step, ms in sorted(steps.items(), key=lambda item: -len(item[1]))
        }


class StampingRelay:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.stamps = WireStamps()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._connected, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _connected(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter):  # type: ignore[no-untyped-def]
        server_r, server_w = await asyncio.open_connection(*self._upstream)
        for task in (
            asyncio.create_task(self._pipe(client_r, server_w, self._client_lines)),
            asyncio.create_task(self._pipe(server_r, client_w, self._server_lines)),
        ):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader, writer, stamp) -> None:  # type: ignore[no-untyped-def]
        tail = b""
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                now = time.time()
                *lines, tail = (tail + chunk).split(b"\r\n")
                tail = tail[-200:]  # a literal's bytes are not lines we look for
                stamp(now, lines)
        finally:
            writer.close()

    def _server_lines(self, now: float, lines: list[bytes]) -> None:
        for line in lines:
            if line.startswith(b"+ idling"):
                self.stamps.commands.append((now, "IDLE accepted"))
            elif match := _EXISTS.match(line):
                self.stamps.exists.append((now, int(match.group(1))))

    def _client_lines(self, now: float, lines: list[bytes]) -> None:
        for line in lines:
            match = _COMMAND.match(line)
            if match is None or len(line) > 300:
                continue
            name = (match.group(1) or b"DONE").decode().upper()
            self.stamps.commands.append((now, name))

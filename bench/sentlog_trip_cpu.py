"""CPU-µs of a sent-log transaction as a trip to aiosqlite's thread and inline on the loop.

A trip (``libs.common.sqlite_thread.in_thread``: a future, a queue put, the worker's
wake-up, ``call_soon_threadsafe`` back) against the same work on a connection of the
event loop's own thread (``services.notifier.sentlog``'s inline transactions)::

    python -m bench.sentlog_trip_cpu --rounds 3 --each 2000

CPU is ``time.process_time`` (both threads), so the result does not depend on the
machine's load as wall time would; each kind is run ``--rounds`` times interleaved.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosqlite

from libs.common.sqlite_thread import in_thread
from services.notifier.bootstrap import use_event_loop
from services.notifier.sentlog import _sqlite_pragmas_of
from services.notifier.settings import EventLoop


def _nothing(db: sqlite3.Connection) -> int:
    return 1


def _insert_one(db: sqlite3.Connection) -> int:
    db.execute("INSERT INTO t (x) VALUES (1)").close()
    db.commit()
    return 1


async def run(rounds: int, each: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "trip.db")
        trip_db = await aiosqlite.connect(path, check_same_thread=False)
        inline_db = sqlite3.connect(path, timeout=0)
        try:
            await in_thread(trip_db, _sqlite_pragmas_of)
            _sqlite_pragmas_of(inline_db)
            inline_db.execute("CREATE TABLE t (x INTEGER)").close()

            async def inline() -> int:
                return _insert_one(inline_db)

            kinds: dict[str, Callable[[], Awaitable[int]]] = {
                "trip, nothing done": lambda: in_thread(trip_db, _nothing),
                "trip, a 1-row insert and commit": lambda: in_thread(trip_db, _insert_one),
                "inline, a 1-row insert and commit": inline,
            }
            cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
            for _ in range(rounds):
                for kind, call in kinds.items():
                    started = time.process_time()
                    for _ in range(each):
                        await call()
                    cpu[kind].append((time.process_time() - started) / each * 1e6)
        finally:
            inline_db.close()
            await trip_db.close()
    return {
        kind: {
            "median_us": round(statistics.median(v), 1),
            "min": round(min(v), 1),
            "max": round(max(v), 1),
        }
        for kind, v in cpu.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--each", type=int, default=2000)
    args = parser.parse_args()
    use_event_loop(EventLoop.UVLOOP)
    print(asyncio.run(run(args.rounds, args.each)))


if __name__ == "__main__":
    main()

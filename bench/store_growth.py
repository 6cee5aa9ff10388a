"""Router on SQLite: what a poll of 500 costs the database thread as the store grows.

Grows a SQLite store with ``route_batch`` (this process, no broker; the traffic of
``bench.router_poll_cpu``: 40 % of interactions from customers seen before) and, on the
fresh store and at each ``--sizes`` mark, measures polls of 500 two ways:

- as the router runs them (autocheckpoint on): the database thread's CPU per poll, the
  wall and CPU time of its COMMIT (from the COMMIT statement's start to the end of the
  one hop that sent it, ``bulk._write_all``) and of the statements before it;
- with the WAL emptied before the poll and autocheckpoint off during it: the WAL frames
  the poll wrote (pages, each ``page_size`` + 24 bytes) attributed to the table or index
  that owns each page (``dbstat``), and the time a checkpoint of those frames then takes
  (what SQLite's autocheckpoint at 1,000 frames runs inside some COMMIT).

``--snapshot DIR`` keeps the grown store (and where the traffic was) in DIR the first
time and starts from a copy of it afterwards, so that before/after comparisons (a
detached worktree of main against a branch) measure the same store without growing it
again; the branch's migrations run on the copy as on any existing store.

Usage: python -m bench.store_growth [--sizes 100000] [--polls 6] [--snapshot DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import shutil
import statistics
import struct
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import write_result
from bench.router_poll_cpu import Traffic
from libs.common.gc_tuning import tune_for_polls
from libs.common.settings import KafkaSettings
from libs.common.sqlite_thread import in_thread
from services.router.bootstrap import build_context, open_store
from services.router.service.agents import seed_agents
from services.router.service.context import RouterContext
from services.router.service.interactions import route_batch
from services.router.settings import RouterSettings
from services.router.store.models import Conversation

POLL = 500
WAL_HEADER = 32
FRAME_HEADER = 24


class ThreadClock:
    """Times every call the pool's aiosqlite connections run on their threads (their
    queue's items wrapped, as ``bench.router_poll_cpu.HopCount`` counts them), and the
    COMMIT inside them (the sqlite3 trace callback marks its start)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.cpu_s = 0.0
        self.commit_wall_s = 0.0
        self.commit_cpu_s = 0.0
        self.drivers: list[Any] = []
        self._commit_began: tuple[float, float] | None = None
        event.listen(engine.sync_engine, "checkout", self._checkout)

    def reset(self) -> None:
        self.cpu_s = self.commit_wall_s = self.commit_cpu_s = 0.0

    def _checkout(self, dbapi_connection: Any, _record: object, _proxy: object) -> None:
        driver = dbapi_connection.driver_connection
        if any(d is driver for d in self.drivers):
            return
        self.drivers.append(driver)
        driver._tx = _TimedQueue(driver._tx, self)

    def trace(self, sql: str) -> None:
        if sql.strip().upper() == "COMMIT":
            self._commit_began = (time.perf_counter(), time.thread_time())

    def timed(self, function: Any) -> Any:
        def run() -> Any:
            began = time.thread_time()
            self._commit_began = None
            try:
                return function()
            finally:
                ended_cpu = time.thread_time()
                self.cpu_s += ended_cpu - began
                if self._commit_began is not None:
                    wall, cpu = self._commit_began
                    self.commit_wall_s += time.perf_counter() - wall
                    self.commit_cpu_s += ended_cpu - cpu

        return run


class _TimedQueue:
    def __init__(self, queue: Any, clock: ThreadClock) -> None:
        self._put = queue.put_nowait
        self._clock = clock

    def put_nowait(self, item: tuple[Any, Any]) -> None:
        future, function = item
        self._put((future, self._clock.timed(function)))


async def on_each_connection(clock: ThreadClock, fn: Any) -> None:
    for driver in clock.drivers:
        await in_thread(driver, fn)


def _traced(clock: ThreadClock) -> Any:
    def install(connection: Any) -> None:
        connection.set_trace_callback(clock.trace)

    return install


def _autocheckpoint(pages: int) -> Any:
    def set_it(connection: Any) -> None:
        connection.execute(f"PRAGMA wal_autocheckpoint={pages}").close()

    return set_it


def _autocheckpoint_now(connection: Any) -> int:
    cursor = connection.execute("PRAGMA wal_autocheckpoint")
    try:
        return int(cursor.fetchone()[0])
    finally:
        cursor.close()


def _checkpoint(mode: str) -> Any:
    def run(connection: Any) -> tuple[int, int, int]:
        cursor = connection.execute(f"PRAGMA wal_checkpoint({mode})")
        try:
            return tuple(cursor.fetchone())  # type: ignore[return-value]
        finally:
            cursor.close()

    return run


def _page_owners(connection: Any) -> dict[int, str]:
    cursor = connection.execute("SELECT pageno, name FROM dbstat")
    try:
        return dict(cursor.fetchall())
    finally:
        cursor.close()


def wal_pages(wal: Path) -> list[int]:
    """The page number of each frame in the WAL file (written since it was emptied)."""
    data = wal.read_bytes()
    if len(data) < WAL_HEADER:
        return []
    page_size = struct.unpack(">I", data[8:12])[0]
    frame = FRAME_HEADER + page_size
    return [
        struct.unpack(">I", data[at : at + 4])[0]
        for at in range(WAL_HEADER, len(data) - frame + 1, frame)
    ]


async def conversations(ctx: RouterContext) -> int:
    async with ctx.uow.reader() as uow:
        return int(
            (await uow.session.execute(select(func.count()).select_from(Conversation))).scalar_one()
        )


async def measure(
    ctx: RouterContext,
    traffic: Traffic,
    clock: ThreadClock,
    wal: Path,
    polls: int,
    autocheckpoint: int | None,
) -> dict:
    await on_each_connection(clock, _traced(clock))
    if autocheckpoint is not None:
        await on_each_connection(clock, _autocheckpoint(autocheckpoint))
    else:
        autocheckpoint = await in_thread(clock.drivers[0], _autocheckpoint_now)
    cpu, commit_wall, commit_cpu, statements_cpu, poll_cpu = [], [], [], [], []
    for _ in range(polls):  # as the router runs them
        batch = traffic.poll(POLL)
        clock.reset()
        began = time.process_time()
        await route_batch(ctx, batch)
        poll_cpu.append((time.process_time() - began) * 1000)
        cpu.append(clock.cpu_s * 1000)
        commit_wall.append(clock.commit_wall_s * 1000)
        commit_cpu.append(clock.commit_cpu_s * 1000)
        statements_cpu.append((clock.cpu_s - clock.commit_cpu_s) * 1000)
    frames, checkpoint_ms, owners_total = [], [], collections.Counter[str]()
    await on_each_connection(clock, _autocheckpoint(0))
    try:
        for _ in range(polls):  # frames each poll writes
            await in_thread(clock.drivers[0], _checkpoint("TRUNCATE"))
            await route_batch(ctx, traffic.poll(POLL))
            pages = wal_pages(wal)
            owners = await in_thread(clock.drivers[0], _page_owners)
            owners_total.update(owners.get(p, "?") for p in pages)
            frames.append(len(pages))
            began = time.perf_counter()
            await in_thread(clock.drivers[0], _checkpoint("PASSIVE"))
            checkpoint_ms.append((time.perf_counter() - began) * 1000)
    finally:
        await on_each_connection(clock, _autocheckpoint(autocheckpoint))
    return {
        "conversations": await conversations(ctx),
        "poll": POLL,
        "polls": polls,
        "process_cpu_ms_median": _median(poll_cpu),
        "db_thread_cpu_ms_median": _median(cpu),
        "statements_cpu_ms_median": _median(statements_cpu),
        "commit_wall_ms_median": _median(commit_wall),
        "commit_cpu_ms_median": _median(commit_cpu),
        # means too: with a larger autocheckpoint only some polls' COMMITs checkpoint
        "db_thread_cpu_ms_mean": _mean(cpu),
        "commit_wall_ms_mean": _mean(commit_wall),
        "process_cpu_ms_mean": _mean(poll_cpu),
        "autocheckpoint": autocheckpoint,
        "wal_frames_median": statistics.median(frames),
        "wal_frames_by_owner_per_poll": {
            name: round(n / polls, 1) for name, n in owners_total.most_common(16)
        },
        "checkpoint_ms_median": _median(checkpoint_ms),
        "load_average_1m": os.getloadavg()[0],
    }


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 2)


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def report(row: dict) -> None:
    r = row
    print(
        f"{r['conversations']:>7} conversations: poll of {r['poll']} "
        f"{r['process_cpu_ms_median']} process CPU-ms, db thread {r['db_thread_cpu_ms_median']} "
        f"CPU-ms (statements {r['statements_cpu_ms_median']}, COMMIT {r['commit_cpu_ms_median']} "
        f"CPU / {r['commit_wall_ms_median']} wall ms); {r['wal_frames_median']} WAL frames, "
        f"checkpoint {r['checkpoint_ms_median']} ms (load {r['load_average_1m']:.1f})\n"
        f"         means: process {r['process_cpu_ms_mean']} CPU-ms, db thread "
        f"{r['db_thread_cpu_ms_mean']} CPU-ms, COMMIT {r['commit_wall_ms_mean']} wall ms "
        f"(wal_autocheckpoint {r['autocheckpoint']})"
    )
    for name, frames in row["wal_frames_by_owner_per_poll"].items():
        print(f"      {frames:>8}  {name}")


def save_snapshot(database: Path, traffic: Traffic, folder: Path) -> None:
    """The grown store (its WAL checkpointed into it first) and the traffic's position."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(database, folder / database.name)
    state = {"sent": traffic.sent, "customers": traffic.customers, "last_mail": traffic.last_mail}
    (folder / "traffic.json").write_text(json.dumps(state))


def load_snapshot(database: Path, folder: Path) -> Traffic | None:
    """A copy of the saved store at ``database`` and its traffic; None if none is saved."""
    if not (folder / database.name).exists():
        return None
    shutil.copyfile(folder / database.name, database)
    state = json.loads((folder / "traffic.json").read_text())
    traffic = Traffic()
    traffic.sent, traffic.customers = state["sent"], state["customers"]
    traffic.last_mail = {int(customer): last for customer, last in state["last_mail"].items()}
    return traffic


async def run(args: argparse.Namespace) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="router-growth-") as folder:
        database = Path(folder) / "router.db"
        restored = load_snapshot(database, args.snapshot) if args.snapshot else None
        settings = RouterSettings(
            state_dir=Path(folder),
            database_url=f"sqlite+aiosqlite:///{database}",
            kafka=KafkaSettings(),
            dev_mode=False,
        )
        engine = await open_store(settings)
        clock = ThreadClock(engine)
        ctx = build_context(settings, engine)
        wal = database.with_name(database.name + "-wal")
        rows = []
        if restored is None:
            await seed_agents(ctx)
            traffic = Traffic()
            for _ in range(2):
                await route_batch(ctx, traffic.poll(POLL))
            tune_for_polls()
            rows.append(await measure(ctx, traffic, clock, wal, args.polls, args.autocheckpoint))
            report(rows[-1])
        else:
            traffic = restored
            for _ in range(2):  # warm-up: caches, prepared statements
                await route_batch(ctx, traffic.poll(POLL))
            tune_for_polls()
        for size in args.sizes:
            began = time.perf_counter()
            while await conversations(ctx) < size:
                for _ in range(20):
                    await route_batch(ctx, traffic.poll(POLL))
            print(f"grown in {time.perf_counter() - began:.0f} s")
            if args.snapshot and restored is None:
                await in_thread(clock.drivers[0], _checkpoint("TRUNCATE"))
                save_snapshot(database, traffic, args.snapshot)
                restored = traffic  # saved once, at the first size
            rows.append(await measure(ctx, traffic, clock, wal, args.polls, args.autocheckpoint))
            report(rows[-1])
        await engine.dispose()
    return rows


async def main(args: argparse.Namespace) -> None:
    rows = await run(args)
    write_result(
        "store_growth",
        {"when": datetime.now(UTC).isoformat(timespec="seconds"), "runs": rows},
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[100_000],
        help="conversations at which to measure, after the fresh store, e.g. 30000,100000",
    )
    parser.add_argument("--polls", type=int, default=6, help="measured polls of 500 each way")
    parser.add_argument(
        "--autocheckpoint",
        type=int,
        default=None,
        help="PRAGMA wal_autocheckpoint for the measured polls (default: the store's own)",
    )
    parser.add_argument(
        "--snapshot",
        type=Path,
        default=None,
        help="folder: keep the grown store there the first time, start from a copy after",
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

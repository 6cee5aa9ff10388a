"""Router CPU per poll: CPU-ms and SQL statements for polls of 1, 10 and 500 interactions.

``route_batch`` called in this process (no broker), per store (SQLite, then PostgreSQL
on a private server), on a database holding agents and earlier conversations: each
poll mixes new customers and repeat customers (mail replies, chats on their thread),
as the pipeline and the backlog do. CPU is ``time.process_time`` (this process, all
its threads: aiosqlite's worker thread included; PostgreSQL's own CPU is not), so
it is steadier than wall-clock on a machine others are using; the event loop's thread
alone (``time.thread_time``: the Python decision work) is printed beside it. Small polls are where
the per-poll fixed cost shows (statements, thread hops, transaction set-up); the
500-interaction poll is the backlog's per-decision cost. On SQLite it also counts the
hops to aiosqlite's thread per poll (each a future, a queue put, a wake-up of each
thread and a self-pipe write: what a small poll's CPU mostly was) and per relay round
(its read of the unsent rows and its mark write, as ``relay.py`` makes them).

Usage: python -m bench.router_poll_cpu [--store all|sqlite|postgresql] [--polls 40]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import router_store_names, router_store_url, write_result
from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from libs.common.gc_tuning import tune_for_polls
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.service.agents import seed_agents
from services.router.service.context import RouterContext
from services.router.service.interactions import Incoming, route_batch
from services.router.settings import RouterSettings
from services.router.store.outbox import mark_sent, unsent_ids

SIZES = (1, 10, 500)
#: Share of a poll's interactions from customers seen before (the backlog bench's 40 %).
REPEAT_EVERY = 5  # 2 of every 5


class Traffic:
    """Interactions numbered in order; every customer's next message follows their last."""

    def __init__(self) -> None:
        self.sent = 0
        self.customers = 0
        self.last_mail: dict[int, str] = {}

    def poll(self, size: int) -> list[Incoming]:
        return [self._next() for _ in range(size)]

    def _next(self) -> Incoming:
        n = self.sent
        self.sent += 1
        if n % REPEAT_EVERY < 2 and self.customers > 10:
            customer = (n * 7919) % self.customers
        else:
            customer = self.customers
            self.customers += 1
        return Incoming(f"pc-{n}", self._interaction(n, customer))

    def _interaction(self, n: int, customer: int) -> Interaction:
        now = datetime.now(UTC)
        if customer % 2:
            return Interaction(
                channel=Channel.CHAT,
                provider="whatsapp",
                integration="wa",
                occurred_at=now,
                received_at=now,
                customer=CustomerIdentity(phone=f"+8210{customer:08d}"),
                body=MessageBody(text="출금이 지연되고 있어요"),
                thread=ThreadHints(provider_thread_id=f"t{customer}"),
            )
        previous = self.last_mail.get(customer)
        message_id = f"<m{n}@c{customer}.example.com>"
        self.last_mail[customer] = message_id
        return Interaction(
            channel=Channel.EMAIL,
            provider="imap",
            integration="support",
            occurred_at=now,
            received_at=now,
            customer=CustomerIdentity(email=f"c{customer}@example.com"),
            subject="Deposit not credited",
            body=MessageBody(text="My deposit is missing"),
            thread=ThreadHints(message_id=message_id, in_reply_to=[previous] if previous else []),
        )


class HopCount:
    """Hops to aiosqlite's thread: puts on the queue of each connection's thread (every
    call to the thread is one), counted on the connections the pool hands out. Works
    with any aiosqlite connection (the router's and aiosqlite's own, to compare)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        self._seen: set[int] = set()
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "checkout", self._checkout)

    def _checkout(self, dbapi_connection: Any, _record: object, _proxy: object) -> None:
        driver = dbapi_connection.driver_connection
        if id(driver) in self._seen:
            return
        self._seen.add(id(driver))
        driver._tx = _CountingQueue(driver._tx, self)


class _CountingQueue:
    def __init__(self, queue: Any, hops: HopCount) -> None:
        self._put = queue.put_nowait
        self._hops = hops

    def put_nowait(self, item: object) -> None:
        self._hops.count += 1
        self._put(item)


class StatementCount:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args: object) -> None:
        self.count += 1


async def measure(
    ctx: RouterContext, traffic: Traffic, size: int, polls: int, hops: HopCount
) -> dict:
    counter = StatementCount()
    sync_engine = ctx.uow.engine.sync_engine
    cpu_ms: list[float] = []
    main_ms: list[float] = []  # the event loop's thread alone (aiosqlite's thread apart)
    statements: list[int] = []
    hop_counts: list[int] = []
    for _ in range(3):  # warm-up: caches, prepared statements, pooled connections
        await route_batch(ctx, traffic.poll(size))
    event.listen(sync_engine, "before_cursor_execute", counter)
    try:
        with _watching_driver(ctx, counter):
            for _ in range(polls):
                batch = traffic.poll(size)
                counter.count = 0
                hops_before = hops.count
                began, began_main = time.process_time(), time.thread_time()
                await route_batch(ctx, batch)
                cpu_ms.append((time.process_time() - began) * 1000)
                main_ms.append((time.thread_time() - began_main) * 1000)
                statements.append(counter.count)
                hop_counts.append(hops.count - hops_before)
    finally:
        event.remove(sync_engine, "before_cursor_execute", counter)
    median = statistics.median(cpu_ms)
    return {
        "size": size,
        "polls": polls,
        "cpu_ms_median": round(median, 3),
        "cpu_ms_mean": round(statistics.fmean(cpu_ms), 3),
        "cpu_us_per_interaction": round(median * 1000 / size, 1),
        "main_thread_cpu_ms_median": round(statistics.median(main_ms), 3),
        "main_thread_us_per_interaction": round(statistics.median(main_ms) * 1000 / size, 1),
        "statements_median": statistics.median(statements),
        "sqlite_hops_median": statistics.median(hop_counts)
        if ctx.uow.engine.dialect.name == "sqlite"
        else None,
    }


async def relay_round_hops(ctx: RouterContext, hops: HopCount) -> dict[str, int]:
    """SQLite: hops of a relay round's store work (``relay.py``): the read of the next
    unsent ids, then the mark write of the published rows, each in its unit of work."""
    before = hops.count
    async with ctx.uow.reader() as uow:
        unsent = await unsent_ids(uow.session, limit=10_000)
    read = hops.count - before
    before = hops.count
    async with ctx.uow() as uow:
        await mark_sent(uow.session, [row.id for row in unsent])
        await uow.commit()
    return {"read": read, "mark": hops.count - before, "rows": len(unsent)}


def _watching_driver(ctx: RouterContext, counter: StatementCount) -> AbstractContextManager[None]:
    """Statements the unit of work sends to the driver itself (SQLite executemany,
    PostgreSQL COPY) count too; a router from before ``watching_driver`` had none."""
    watching = getattr(ctx.uow, "watching_driver", None)
    return watching(counter) if watching is not None else nullcontext()


async def run_store(name: str, url: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        settings = RouterSettings(
            state_dir=Path(folder), database_url=url, kafka=KafkaSettings(), dev_mode=False
        )
        engine = await open_store(settings)
        hops = HopCount(engine)
        ctx = build_context(settings, engine)
        await seed_agents(ctx)
        traffic = Traffic()
        for _ in range(4):  # earlier customers to come back
            await route_batch(ctx, traffic.poll(500))
        tune_for_polls()
        figures = [
            await measure(ctx, traffic, size, _polls(size, args.polls), hops) for size in SIZES
        ]
        relay = await relay_round_hops(ctx, hops) if name == "sqlite" else None
        await engine.dispose()
    return {
        "store": name,
        "load_average_1m": os.getloadavg()[0],
        "polls": figures,
        "relay_round_hops": relay,
    }


def _polls(size: int, polls: int) -> int:
    return max(5, polls // 8) if size >= 500 else polls


async def main(args: argparse.Namespace) -> None:
    results = []
    for name in router_store_names(args.store):
        with router_store_url(name, prefix="router-poll-") as url:
            figures = await run_store(name, url, args)
        for row in figures["polls"]:
            hops = row["sqlite_hops_median"]
            print(
                f"{name:10} poll of {row['size']:>3}: {row['cpu_ms_median']:8.2f} CPU-ms "
                f"({row['cpu_us_per_interaction']} µs/interaction; main thread "
                f"{row['main_thread_us_per_interaction']} µs), "
                f"{row['statements_median']} statements"
                + (f", {hops} hops to aiosqlite's thread" if hops is not None else "")
            )
        relay = figures["relay_round_hops"]
        if relay is not None:
            print(
                f"{name:10} relay round: {relay['read']} hops to read the unsent ids, "
                f"{relay['mark']} to mark {relay['rows']} rows sent"
            )
        results.append(figures)
    write_result("router_poll_cpu", {"runs": results})


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["all", "sqlite", "postgresql"], default="all")
    parser.add_argument("--polls", type=int, default=40, help="measured polls per small size")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

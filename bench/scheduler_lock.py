"""Router scheduler: how often a tick takes the assignment lock, and for how long.

``Scheduler.tick`` called in this process (no broker), per store (SQLite, then
PostgreSQL on a private server), in three states: idle (agents online, nobody waiting),
busy (every agent full, a few hundred chats waiting — the 1,000/s bench's steady
state, where routing polls queue behind the scheduler), and busy with one slot freed
before each tick (a round that assigns one conversation). Per tick: writing units of
work opened (on SQLite each holds the process's write lock, which every routing poll
waits for), assignment locks taken (PostgreSQL's ``pg_advisory_xact_lock``), how long
the lock was held (SQLite: the writing unit's life; PostgreSQL: from the advisory
lock to the end of its transaction) and the tick's CPU (``time.process_time``).

Usage: python -m bench.scheduler_lock [--store all|sqlite|postgresql] [--ticks 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.common import router_store_names, router_store_url, write_result
from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.domain.assignment import AgentStatus
from services.router.scheduler import Scheduler
from services.router.service.agents import seed_agents, set_agent_status
from services.router.service.context import RouterContext
from services.router.service.interactions import Incoming, route_batch
from services.router.settings import RouterSettings
from services.router.store.unit_of_work import UnitOfWork, UnitOfWorkFactory

#: Chats waiting in the busy state (a few hundred: the queue the 1,000/s bench builds).
WAITING = 400
#: In the third state this agent gets room for one more chat before each tick.
AGENT_WITH_ROOM = "agent-lee"


class LockMeter(UnitOfWorkFactory):
    """The context's units of work, metered: writing units, assignment locks, held time."""

    def __init__(self, base: UnitOfWorkFactory) -> None:
        super().__init__(
            base.engine,
            on_commit=base.on_commit,
            before_commit=base.before_commit,
            hand_over=base.hand_over,
        )
        self.writers = 0
        self.locks = 0
        self.held_ms: list[float] = []
        self._locked_at: float | None = None
        event.listen(self.engine.sync_engine, "after_cursor_execute", self._seen)
        # PostgreSQL: the lock goes with its BEGIN straight to the driver (store/pg_begin.py)
        self._bulk.watchers.append(self._sent_to_driver)

    def _sent_to_driver(self, sql: str) -> None:
        self._seen(None, None, sql)

    def _seen(self, *args: Any) -> None:
        if "pg_advisory_xact_lock" in args[2]:
            self.locks += 1
            self._locked_at = time.perf_counter()

    def __call__(self) -> UnitOfWork:
        self.writers += 1
        return _Metered(super().__call__(), self)  # type: ignore[return-value]

    def entered(self) -> None:
        if not self.postgres:
            self._locked_at = time.perf_counter()  # SQLite: the write lock is held now

    def exited(self) -> None:
        if self._locked_at is not None:
            self.held_ms.append((time.perf_counter() - self._locked_at) * 1000)
            self._locked_at = None

    def reset(self) -> None:
        self.writers = self.locks = 0
        self.held_ms = []

    def close(self) -> None:
        event.remove(self.engine.sync_engine, "after_cursor_execute", self._seen)
        self._bulk.watchers.remove(self._sent_to_driver)


class _Metered:
    """``async with`` around a unit of work, telling the meter when it starts and ends."""

    def __init__(self, unit: UnitOfWork, meter: LockMeter) -> None:
        self._unit = unit
        self._meter = meter

    async def __aenter__(self) -> UnitOfWork:
        unit = await self._unit.__aenter__()
        self._meter.entered()
        return unit

    async def __aexit__(self, *exc: Any) -> None:
        try:
            await self._unit.__aexit__(*exc)
        finally:
            self._meter.exited()


def chat(n: int) -> Incoming:
    now = datetime.now(UTC)
    return Incoming(
        f"sched-{n}",
        Interaction(
            channel=Channel.CHAT,
            provider="telegram",
            integration="tg",
            occurred_at=now,
            received_at=now,
            customer=CustomerIdentity(handle=f"telegram:{n}"),
            body=MessageBody(text="Where is my deposit?"),
            thread=ThreadHints(provider_thread_id=f"t{n}"),
        ),
    )


async def one_more_chat(ctx: RouterContext) -> None:
    """One agent takes one more chat: a slot frees without anything draining the queue
    (as a capacity change committed by another replica would), for the next tick."""
    async with ctx.uow() as uow:
        agent = await uow.agents.get(AGENT_WITH_ROOM, lock=True)
        assert agent is not None
        agent.capacity = {**agent.capacity, "chat": int(agent.capacity.get("chat", 0)) + 1}
        await uow.commit()


async def measure(
    ctx: RouterContext,
    state: str,
    ticks: int,
    before_tick: Callable[[RouterContext], Awaitable[None]] | None = None,
) -> dict:
    meter = LockMeter(ctx.uow)
    scheduler = Scheduler(replace(ctx, uow=meter))
    cpu: list[float] = []
    try:
        for _ in range(ticks):
            if before_tick is not None:
                await before_tick(ctx)  # not metered: ctx's own units
            started = time.process_time()
            await scheduler.tick()
            cpu.append((time.process_time() - started) * 1000)
    finally:
        meter.close()
    held = meter.held_ms
    return {
        "state": state,
        "ticks": ticks,
        "writing_units_per_tick": round(meter.writers / ticks, 2),
        "assignment_locks_per_tick": round(meter.locks / ticks, 2),
        "lock_held_ms_per_tick": round(sum(held) / ticks, 2),
        "lock_held_ms_max": round(max(held), 2) if held else 0.0,
        "tick_cpu_ms_p50": round(statistics.median(cpu), 2),
    }


async def run_store(name: str, url: str, ticks: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="sched-bench-") as folder:
        settings = RouterSettings(
            state_dir=Path(folder), database_url=url, kafka=KafkaSettings(), dev_mode=False
        )
        engine = await open_store(settings)
        ctx = build_context(settings, engine)
        await seed_agents(ctx)
        for agent in ctx.config.current.roster.agents:
            await set_agent_status(ctx, agent.id, AgentStatus.ONLINE)
        idle = await measure(ctx, "idle", ticks)
        for start in range(0, WAITING, 100):
            await route_batch(ctx, [chat(n) for n in range(start, start + 100)])
        busy = await measure(ctx, "busy", ticks)
        room = await measure(ctx, "one_slot_per_tick", ticks, one_more_chat)
        await engine.dispose()
    states = [idle, busy, room]
    return {"store": name, "load_average_1m": os.getloadavg()[0], "states": states}


async def main(args: argparse.Namespace) -> None:
    runs = []
    for name in router_store_names(args.store):
        with router_store_url(name, prefix="sched-bench-") as url:
            figures = await run_store(name, url, args.ticks)
        for state in figures["states"]:
            print(f"{name} {state['state']}: {state}")
        runs.append(figures)
    write_result("scheduler_lock", {"runs": runs})


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["all", "sqlite", "postgresql"], default="all")
    parser.add_argument("--ticks", type=int, default=20)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

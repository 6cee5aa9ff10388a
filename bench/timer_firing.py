"""Router scheduler: CPU per SLA timer fired, one claim per timer vs one claim per round.

In this process (no broker), per store (SQLite, then PostgreSQL on a private server):
``--timers`` chats wait (every agent offline), so each has its first-response warning
pending; the clock is set past those warnings and a round fires them
(``fire_due_timers``, ``limit`` = the number of chats). After each round the warnings
are made pending again (``fired_at`` NULL) for the next. Rounds alternate between the
round as it was before (``per_timer_round``: a claim ``UPDATE`` and a locked
``conversations.get`` per timer, copied here) and the current one (a claim for the
round, the conversations in one query), A, B, A, B, ... so both see the same load.
Per round: ``time.thread_time`` of the main thread (the event loop: the router's
limit) and ``time.process_time`` (with aiosqlite's thread), per timer fired.

Usage: python -m bench.timer_firing [--store all|sqlite|postgresql] [--timers 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import delete, select, update

from bench.common import router_store_names, router_store_url, write_result
from bench.scheduler_lock import chat
from libs.common.events.routing import SlaWarning
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.domain.lifecycle import is_active
from services.router.service.agents import seed_agents
from services.router.service.context import RouterContext
from services.router.service.interactions import route_batch
from services.router.service.timers import fire_due_timers, fire_timer
from services.router.settings import RouterSettings
from services.router.store.models import OutboxPending, OutboxRow, SlaTimer


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def per_timer_round(ctx: RouterContext, *, limit: int = 200) -> int:
    """``fire_due_timers`` before the round's claims were one statement (the A side)."""
    now = ctx.clock()
    async with ctx.uow.reader() as look:
        if not await look.timers.any_due(now):
            return 0
    async with ctx.uow() as uow:
        await uow.serialise_assignment()
        fired = 0
        for timer in await uow.timers.due(now, limit=limit):
            if not await uow.timers.claim(timer.id, now):
                continue
            conversation = await uow.conversations.get(timer.conversation_id, lock=True)
            if conversation is None or not is_active(conversation.status):
                continue
            await fire_timer(uow, ctx, conversation, timer, now)
            fired += 1
        await uow.commit()
    return fired


async def run_store(name: str, url: str, timers: int, rounds: int) -> dict:
    with TemporaryDirectory(prefix="timer-bench-") as folder:
        settings = RouterSettings(
            state_dir=Path(folder), database_url=url, kafka=KafkaSettings(), dev_mode=False
        )
        engine = await open_store(settings)
        clock = Clock(datetime(2026, 3, 4, 1, 0, tzinfo=UTC))  # Wed 10:00 KST
        ctx = build_context(settings, engine, clock=clock)
        await seed_agents(ctx)  # all offline: every chat waits, its clocks run
        for start in range(0, timers, 100):
            await route_batch(ctx, [chat(n) for n in range(start, min(start + 100, timers))])
        async with ctx.uow.reader() as uow:
            rows = (
                await uow.session.execute(
                    select(SlaTimer.id, SlaTimer.due_at).where(
                        SlaTimer.kind == "warning", SlaTimer.metric == "first_response"
                    )
                )
            ).all()
        ids = [row[0] for row in rows]
        clock.now = max(row[1] for row in rows)
        sides: dict[str, Callable[..., Awaitable[int]]] = {
            "per_timer_claims": per_timer_round,
            "one_claim_per_round": fire_due_timers,
        }
        figures: dict[str, dict[str, list[float]]] = {
            side: {"thread_us": [], "process_us": []} for side in sides
        }
        for _ in range(rounds):
            for side, round_ in sides.items():
                async with ctx.uow() as uow:  # pending again; their events' ids free again
                    session = uow.session
                    await session.execute(
                        update(SlaTimer).where(SlaTimer.id.in_(ids)).values(fired_at=None)
                    )
                    warned = select(OutboxRow.id).where(OutboxRow.ce_type == SlaWarning.ce_type)
                    await session.execute(delete(OutboxPending).where(OutboxPending.id.in_(warned)))
                    await session.execute(delete(OutboxRow).where(OutboxRow.id.in_(warned)))
                    await uow.commit()
                thread, process = time.thread_time(), time.process_time()
                fired = await round_(ctx, limit=timers)
                thread, process = time.thread_time() - thread, time.process_time() - process
                assert fired == len(ids), (side, fired, len(ids))
                figures[side]["thread_us"].append(thread / fired * 1e6)
                figures[side]["process_us"].append(process / fired * 1e6)
        await engine.dispose()
    summary: dict[str, dict[str, object]] = {side: {} for side in figures}
    for side, side_figures in figures.items():
        for key, values in side_figures.items():
            summary[side][f"{key}_per_timer_median"] = round(statistics.median(values), 1)
            summary[side][f"{key}_per_timer_all"] = [round(v, 1) for v in values]
    return {
        "store": name,
        "timers_per_round": len(ids),
        "rounds_each": rounds,
        "load_average_1m": os.getloadavg()[0],
        "sides": summary,
    }


async def main(args: argparse.Namespace) -> None:
    runs = []
    for name in router_store_names(args.store):
        with router_store_url(name, prefix="timer-bench-") as url:
            figures = await run_store(name, url, args.timers, args.rounds)
        print(figures, flush=True)
        runs.append(figures)
    write_result("timer_firing", {"runs": runs})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="all", choices=["all", "sqlite", "postgresql"])
    parser.add_argument("--timers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args()))

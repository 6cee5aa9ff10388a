"""A routed poll on PostgreSQL: wall time against CPU, its append-only rows sent ahead
while the poll is decided (``UnitOfWork.send_ahead``) or all sent at its commit.

``route_batch`` in this process on a private PostgreSQL server (the traffic of
``bench.router_poll_cpu``: new and repeat customers), polls of ``--size``; the polls
alternate between the two ways (``RoutingOptions.send_ahead_every`` as the router has it,
and never), so both see the same minutes of this shared machine and the same growth
of the tables. Per poll: its wall time, the process's CPU, the rest (waiting: for the
server, or for a CPU, ``waiting_ms``), how long the loop thread slept (schedstat:
neither on a CPU nor queued for one: the server's work the router waited for,
``asleep_ms``), and how long its commit waited for the rows sent ahead
(``ahead_wait_ms``). Nothing else runs in the loop (no Kafka, no relay): a poll's sleep
is its own round trips. Sending ahead only pays where the server has a core of its own
while the router decides: measure on an idle machine.

Usage: python -m bench.router_pg_overlap [--size 400] [--polls 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.common import write_result
from bench.router_poll_cpu import Traffic
from libs.common.gc_tuning import tune_for_polls
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.service.agents import seed_agents
from services.router.service.interactions import route_batch
from services.router.settings import RouterSettings
from services.router.store.unit_of_work import UnitOfWork
from tools.testing.postgres import PostgresServer

AHEAD_SENT = UnitOfWork._ahead_sent


class AheadWait:
    """The time a poll's commit waited for its rows sent ahead."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def install(self) -> None:
        wait = self

        async def ahead_sent(uow: UnitOfWork) -> None:
            began = time.perf_counter()
            try:
                await AHEAD_SENT(uow)
            finally:
                wait.seconds += time.perf_counter() - began

        UnitOfWork._ahead_sent = ahead_sent  # type: ignore[method-assign]


def _schedstat() -> tuple[float, float]:
    with open("/proc/thread-self/schedstat") as stat:
        on_cpu, queued, _slices = stat.read().split()
    return int(on_cpu) / 1e9, int(queued) / 1e9


async def run(args: argparse.Namespace, server: PostgresServer) -> dict:
    url = server.create_database()
    with tempfile.TemporaryDirectory() as folder:
        settings = RouterSettings(
            state_dir=Path(folder), database_url=url, kafka=KafkaSettings(), dev_mode=False
        )
        engine = await open_store(settings)
        ctx = build_context(settings, engine)
        await seed_agents(ctx)
        traffic = Traffic()
        for _ in range(args.warm):
            await route_batch(ctx, traffic.poll(args.size))
        tune_for_polls()
        names = ("wall_ms", "cpu_ms", "waiting_ms", "asleep_ms", "ahead_wait_ms")
        figures: dict[str, dict[str, list[float]]] = {
            mode: {name: [] for name in names} for mode in ("at_commit", "sent_ahead")
        }
        modes = {"at_commit": 0, "sent_ahead": ctx.options.send_ahead_every}
        options = {mode: replace(ctx.options, send_ahead_every=n) for mode, n in modes.items()}
        for number in range(2 * args.polls):
            mode = "sent_ahead" if number % 2 else "at_commit"
            ctx.options = options[mode]
            batch = traffic.poll(args.size)
            wait = AheadWait()
            wait.install()
            on_cpu, queued = _schedstat()
            began, cpu = time.perf_counter(), time.process_time()
            await route_batch(ctx, batch)
            wall, cpu = time.perf_counter() - began, time.process_time() - cpu
            on_cpu_end, queued_end = _schedstat()
            mine = figures[mode]
            mine["wall_ms"].append(wall * 1000)
            mine["cpu_ms"].append(cpu * 1000)
            mine["waiting_ms"].append((wall - cpu) * 1000)
            mine["asleep_ms"].append((wall - (on_cpu_end - on_cpu) - (queued_end - queued)) * 1000)
            mine["ahead_wait_ms"].append(wait.seconds * 1000)
            await asyncio.sleep(0.05)  # the server's background writers catch up
        UnitOfWork._ahead_sent = AHEAD_SENT  # type: ignore[method-assign]
        await engine.dispose()
    return {
        "size": args.size,
        "polls_each": args.polls,
        "send_ahead_every": modes["sent_ahead"],
        "load_average_1m": os.getloadavg()[0],
        **{
            mode: {
                f"{name}_median": round(statistics.median(values), 2)
                for name, values in numbers.items()
            }
            for mode, numbers in figures.items()
        },
        **{
            f"{name}_paired_difference": _paired(
                figures["at_commit"][name], figures["sent_ahead"][name]
            )
            for name in ("wall_ms", "asleep_ms", "cpu_ms")
        },
    }


def _paired(before: list[float], after: list[float]) -> dict[str, float]:
    """Poll by poll (each poll at its commit, then the next sent ahead): the mean of
    before - after, its standard error and median."""
    differences = [a - b for a, b in zip(before, after, strict=True)]
    return {
        "mean": round(statistics.fmean(differences), 2),
        "standard_error": round(statistics.stdev(differences) / len(differences) ** 0.5, 2),
        "median": round(statistics.median(differences), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=400)
    parser.add_argument("--polls", type=int, default=20, help="polls of each way")
    parser.add_argument("--warm", type=int, default=6)
    args = parser.parse_args()
    server = PostgresServer().start()
    try:
        figures = asyncio.run(run(args, server))
    finally:
        server.stop()
    print(figures)
    write_result("router_pg_overlap", figures)


if __name__ == "__main__":
    main()

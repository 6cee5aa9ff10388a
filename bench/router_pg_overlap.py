"""A routed poll on PostgreSQL: wall time against CPU, with the commit's runs sent in turn
(each converted while the server writes the one before) or all converted first.

``route_batch`` in this process on a private PostgreSQL server (the traffic of
``bench.router_poll_cpu``: new and repeat customers), polls of ``--size``; the polls
alternate between the two ways of sending the commit's runs (``BulkInserter.
_send_in_turn``, and the way before it: every run converted, then each sent and
awaited), so both see the same minutes of this shared machine, and the same growth of
the tables. Per poll: its wall time, the process's CPU, and the rest (waiting: for the
server, or for a CPU, ``waiting_ms``), and how long the loop thread slept (schedstat:
neither on a CPU nor queued for one: the server's work the router waited for,
``asleep_ms``). Nothing else runs in the loop (no Kafka, no relay): a poll's sleep is
its own round trips. The commit's conversions of rows to values are timed (thread CPU),
and the part of them spent while a run was in flight (``conversion_overlapped_cpu_ms``:
on an idle machine, with the server on the other core, that much of the poll's wait is
gone; wall times on this shared machine are too noisy to show it).

Usage: python -m bench.router_pg_overlap [--size 400] [--polls 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.common import write_result
from bench.router_poll_cpu import Traffic
from libs.common.gc_tuning import tune_for_polls
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.service.agents import seed_agents
from services.router.service.interactions import route_batch
from services.router.settings import RouterSettings
from services.router.store.bulk import BulkInserter, _Plan
from tools.testing.postgres import PostgresServer

IN_TURN = BulkInserter._send_in_turn
PLAN_VALUES = _Plan.values
SEND_RAW = BulkInserter._send_raw


class Conversions:
    """The commit's conversions of rows to values (``_Plan.values``): their thread CPU,
    and of it the part spent while a run was in flight (sent, its answer not read: the
    server writing it), the CPU this way of sending takes out of the poll's waits."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.overlapped_cpu_s = 0.0
        self.in_flight = 0

    def install(self) -> None:
        conversions = self

        def values(plan: _Plan, rows: Any, copy_from: int | None) -> Any:
            began = time.thread_time()
            try:
                return PLAN_VALUES(plan, rows, copy_from)
            finally:
                spent = time.thread_time() - began
                conversions.cpu_s += spent
                if conversions.in_flight:
                    conversions.overlapped_cpu_s += spent

        async def send_raw(inserter: BulkInserter, *args: Any) -> None:
            conversions.in_flight += 1
            try:
                await SEND_RAW(inserter, *args)
            finally:
                conversions.in_flight -= 1

        _Plan.values = values  # type: ignore[method-assign]
        BulkInserter._send_raw = send_raw  # type: ignore[method-assign]


async def converted_first(self: BulkInserter, connection: Any, runs: Iterable[Any]) -> None:
    """The way before ``_send_in_turn``: every run converted, then each sent in turn."""
    for run in list(runs):
        await self._send_run(connection, *run)


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
        figures: dict[str, dict[str, list[float]]] = {
            mode: {
                "wall_ms": [],
                "cpu_ms": [],
                "waiting_ms": [],
                "asleep_ms": [],
                "conversion_cpu_ms": [],
                "conversion_overlapped_cpu_ms": [],
            }
            for mode in ("converted_first", "in_turn")
        }
        for number in range(2 * args.polls):
            mode = "in_turn" if number % 2 else "converted_first"
            BulkInserter._send_in_turn = IN_TURN if mode == "in_turn" else converted_first  # type: ignore[method-assign]
            batch = traffic.poll(args.size)
            conversions = Conversions()
            conversions.install()
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
            mine["conversion_cpu_ms"].append(conversions.cpu_s * 1000)
            mine["conversion_overlapped_cpu_ms"].append(conversions.overlapped_cpu_s * 1000)
            await asyncio.sleep(0.05)  # the server's background writers catch up
        BulkInserter._send_in_turn = IN_TURN  # type: ignore[method-assign]
        _Plan.values = PLAN_VALUES  # type: ignore[method-assign]
        BulkInserter._send_raw = SEND_RAW  # type: ignore[method-assign]
        await engine.dispose()
    return {
        "size": args.size,
        "polls_each": args.polls,
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
                figures["converted_first"][name], figures["in_turn"][name]
            )
            for name in ("wall_ms", "asleep_ms", "cpu_ms")
        },
    }


def _paired(before: list[float], after: list[float]) -> dict[str, float]:
    """Poll by poll (each poll converted first, then the next in turn): the mean of
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

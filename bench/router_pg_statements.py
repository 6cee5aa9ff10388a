"""A routed poll on PostgreSQL statement by statement: round trips, the server's time
per statement kind, the server's and the router's CPU per poll.

``route_batch`` in this process (as ``bench.router_poll_cpu``: the same traffic of new
and repeat customers), on a private PostgreSQL server started with
``pg_stat_statements``. Per measured poll of ``--size``: the router's CPU
(``time.process_time``), the server's CPU (every process of the server, from
``/proc/<pid>/stat``: the backends, the WAL writer, …) and the statements the router
sent (SQLAlchemy's and the driver's own). After the polls, ``pg_stat_statements``
gives each statement's calls and execution time (wall-clock inside the server; with
``fsync=off`` close to its CPU) divided by the polls. ``--profile`` also profiles the
polls (cProfile) and sums the router's own time by package (asyncpg, SQLAlchemy, the
router, …): how much of a poll's CPU is the way to the server.

Usage: python -m bench.router_pg_statements [--size 500] [--polls 10] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import event, text

from bench.common import write_result
from bench.router_poll_cpu import StatementCount, Traffic
from libs.common.gc_tuning import tune_for_polls
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.service.agents import seed_agents
from services.router.service.interactions import route_batch
from services.router.settings import RouterSettings
from tools.testing.postgres import PostgresServer

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class StatementsServer(PostgresServer):
    """The tests' private server, with ``pg_stat_statements`` loaded."""

    @property
    def options(self) -> str:
        return (
            super().options + " -c shared_preload_libraries=pg_stat_statements"
            " -c pg_stat_statements.track=all -c pg_stat_statements.track_utility=on"
        )

    def cpu_seconds(self) -> float:
        """User + system CPU of the postmaster and all its children so far."""
        assert self.root is not None
        postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(entry.name), int(fields[1])
            if pid == postmaster or ppid == postmaster:
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLOCK_TICKS


class SqlTexts:
    """The SQL of each statement sent (SQLAlchemy's cursor events and the driver's own)."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def __call__(self, *args: object) -> None:
        sql = args[0] if len(args) == 1 else args[2]
        self.sent[" ".join(str(sql).split())[:110]] += 1


def _package(filename: str) -> str:
    for name in ("asyncpg", "sqlalchemy", "pydantic", "asyncio", "services/router/store"):
        if f"/{name}/" in filename:
            return name
    if "services/router" in filename:
        return "services/router (decisions)"
    if "libs/common" in filename:
        return "libs/common"
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins"
    return "other"


async def run(args: argparse.Namespace, server: StatementsServer) -> dict:
    url = server.create_database()
    if args.unix:  # the server's Unix socket instead of TCP on loopback
        url = (
            url.replace(f"@127.0.0.1:{server.port}/", "@/")
            + f"?host={server.root}&port={server.port}"
        )
    with tempfile.TemporaryDirectory() as folder:
        settings = RouterSettings(
            state_dir=Path(folder), database_url=url, kafka=KafkaSettings(), dev_mode=False
        )
        engine = await open_store(settings)
        ctx = build_context(settings, engine)
        await seed_agents(ctx)
        traffic = Traffic()
        for _ in range(args.warm):  # earlier customers to come back, warm caches
            await route_batch(ctx, traffic.poll(args.size))
        async with engine.begin() as connection:
            await connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
            await connection.execute(text("ANALYZE"))
        for _ in range(2):
            await route_batch(ctx, traffic.poll(args.size))
        async with engine.begin() as connection:
            await connection.execute(text("SELECT pg_stat_statements_reset()"))
        tune_for_polls()
        counter, texts = StatementCount(), SqlTexts()
        sync_engine = ctx.uow.engine.sync_engine
        event.listen(sync_engine, "before_cursor_execute", counter)
        event.listen(sync_engine, "before_cursor_execute", texts)
        profile = cProfile.Profile() if args.profile else None
        router_ms, main_ms, server_ms, statements = [], [], [], []
        try:
            with ctx.uow.watching_driver(counter), ctx.uow.watching_driver(texts):
                for _ in range(args.polls):
                    batch = traffic.poll(args.size)
                    counter.count = 0
                    s0 = server.cpu_seconds()
                    p0, t0 = time.process_time(), time.thread_time()
                    if profile is not None:
                        profile.enable()
                    await route_batch(ctx, batch)
                    if profile is not None:
                        profile.disable()
                    router_ms.append((time.process_time() - p0) * 1000)
                    main_ms.append((time.thread_time() - t0) * 1000)
                    await asyncio.sleep(0.05)  # the server's background writers catch up
                    server_ms.append((server.cpu_seconds() - s0) * 1000)
                    statements.append(counter.count)
        finally:
            event.remove(sync_engine, "before_cursor_execute", counter)
            event.remove(sync_engine, "before_cursor_execute", texts)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    text(
                        "SELECT query, calls, total_exec_time, rows FROM pg_stat_statements"
                        " WHERE query NOT LIKE '%pg_stat_statements%'"
                        " ORDER BY total_exec_time DESC"
                    )
                )
            ).all()
        await engine.dispose()
    polls = args.polls
    kinds = [
        {
            "query": " ".join(query.split())[:110],
            "calls_per_poll": round(calls / polls, 2),
            "server_ms_per_poll": round(total / polls, 3),
            "rows_per_poll": round(n / polls, 1),
        }
        for query, calls, total, n in rows
        if calls / polls >= 0.5
    ]
    by_package: dict[str, float] = {}
    if profile is not None:
        stats = pstats.Stats(profile)
        for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            key = _package(filename)
            by_package[key] = by_package.get(key, 0.0) + tottime * 1000 / polls
        if args.profile_out:
            stats.dump_stats(args.profile_out)
    return {
        "size": args.size,
        "polls": polls,
        "load_average_1m": os.getloadavg()[0],
        "router_cpu_ms_median": round(statistics.median(router_ms), 2),
        "router_cpu_ms_all": [round(x, 1) for x in router_ms],
        "main_thread_cpu_ms_median": round(statistics.median(main_ms), 2),
        "server_cpu_ms_median": round(statistics.median(server_ms), 2),
        "server_cpu_ms_all": [round(x, 1) for x in server_ms],
        "statements_median": statistics.median(statements),
        "sent": {sql: round(n / polls, 2) for sql, n in texts.sent.most_common()},
        "server_statements": kinds,
        "profile_ms_per_poll_by_package": {
            k: round(v, 1) for k, v in sorted(by_package.items(), key=lambda kv: -kv[1])
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--polls", type=int, default=10)
    parser.add_argument("--warm", type=int, default=4)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--unix", action="store_true", help="connect by the Unix socket")
    parser.add_argument("--profile-out", help="also write the profile (pstats) here")
    args = parser.parse_args()
    server = StatementsServer().start()
    try:
        figures = asyncio.run(run(args, server))
    finally:
        server.stop()
    print(
        f"poll of {figures['size']}: router {figures['router_cpu_ms_median']} CPU-ms "
        f"(main thread {figures['main_thread_cpu_ms_median']}), server "
        f"{figures['server_cpu_ms_median']} CPU-ms, {figures['statements_median']} statements"
        f" (load {figures['load_average_1m']:.2f})"
    )
    print("sent per poll:")
    for sql, n in figures["sent"].items():
        print(f"  {n:6.2f}  {sql}")
    print("server per poll (pg_stat_statements): calls, ms, rows")
    for kind in figures["server_statements"]:
        print(
            f"  {kind['calls_per_poll']:6.2f} {kind['server_ms_per_poll']:8.3f} ms "
            f"{kind['rows_per_poll']:7.1f}  {kind['query']}"
        )
    if figures["profile_ms_per_poll_by_package"]:
        print("router profile, ms per poll by package (cProfile tottime):")
        for name, ms in figures["profile_ms_per_poll_by_package"].items():
            print(f"  {ms:8.1f}  {name}")
    write_result("router_pg_statements", figures)


if __name__ == "__main__":
    main()

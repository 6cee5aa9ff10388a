"""CPU of the SQLite relay round's read (``outbox.unsent_ids``) with published rows left out.

A migrated SQLite store holds ``--rows`` pending outbox rows; each round reads the
next ``--limit`` unsent ids leaving out the first ``--excluded`` (one run of
consecutive ids, as the relay's published-but-unmarked rows are between two marks,
~1,400 at the backlog's pace). CPU is ``time.process_time`` over ``--rounds`` rounds
(this process, aiosqlite's thread included) and ``time.thread_time`` of the main
thread (the event loop's, which holds the GIL for the router's decisions), the best
of ``--passes`` each.

    python -m bench.unsent_ids_cost [--rows 6000] [--excluded 1400] [--limit 500]

Instructions a round, steadier than CPU time on a shared machine: run it under
``valgrind --tool=callgrind --separate-threads=yes`` with ``--rounds 20 --passes 1``
and ``--rounds 120 --passes 1`` and divide the difference of each thread's total by
100 (the first thread is the event loop's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.router.store.engine import build_engine, migrate
from services.router.store.models import OutboxRow
from services.router.store.outbox import unsent_ids
from services.router.store.unit_of_work import UnitOfWorkFactory


async def outbox_store(folder: Path, rows: int) -> tuple[AsyncEngine, UnitOfWorkFactory, list[int]]:
    """A migrated SQLite router store in ``folder`` holding ``rows`` unsent outbox rows,
    and their ids in order (also ``bench.relay_read_cost``'s)."""
    engine = build_engine(f"sqlite+aiosqlite:///{folder / 'router.db'}")
    await migrate(engine)
    factory = UnitOfWorkFactory(engine)
    at = datetime(2026, 3, 4, tzinfo=UTC)
    async with factory() as uow:
        for n in range(rows):
            uow.insert_later(
                OutboxRow,
                {
                    "event_id": f"ev-{n:08d}",
                    "ce_type": "support.routing.interaction_routed.v1",
                    "conversation_id": f"conv-{n % 997}",
                    "occurred_at": at,
                    "payload": "{}",
                },
            )
        await uow.commit()
    async with factory.reader() as uow:
        ids = list(await uow.session.scalars(select(OutboxRow.id).order_by(OutboxRow.id)))
    return engine, factory, ids


async def measure(rows: int, excluded: int, limit: int, rounds: int, passes: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="unsent-ids-") as folder:
        engine, factory, ids = await outbox_store(Path(folder), rows)
        left_out = set(ids[:excluded])
        best = best_main = float("inf")
        for _ in range(passes):
            started, started_main = time.process_time(), time.thread_time()
            for _ in range(rounds):
                async with factory.reader() as uow:
                    read = await unsent_ids(uow.session, limit=limit, excluding=left_out)
            best = min(best, time.process_time() - started)
            best_main = min(best_main, time.thread_time() - started_main)
            assert [row.id for row in read] == ids[excluded : excluded + limit]
        await engine.dispose()
    return {
        "rows": rows,
        "excluded": excluded,
        "limit": limit,
        "cpu_us_per_round": round(best * 1e6 / rounds, 1),
        "main_thread_cpu_us_per_round": round(best_main * 1e6 / rounds, 1),
        "load_average_1m": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6_000)
    parser.add_argument("--excluded", type=int, default=1_400)
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.rows, args.excluded, args.limit, args.rounds, args.passes))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

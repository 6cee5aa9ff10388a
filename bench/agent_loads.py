"""The agents' loads lookup (every poll) on a SQLite store with many open conversations.

In the backlog bench the agents' capacity is unbounded: every conversation the router
opens stays open and assigned, 100,000 by the end, and each poll counts them all
(``repositories._LOADS``). This migrates a SQLite store, fills ``conversations`` with
``--open`` open conversations of 6 agents (half e-mail, half chat; rows of realistic
width), and times the lookup (CPU, this thread: SQLite runs in it) interleaved:

- ``before``: migration 0009's index (assignee_id, status), grouped by (assignee_id,
  channel): each conversation's row read from the table, grouped in a temporary B-tree;
- ``after``: migration 0010's (assignee_id, status, channel), grouped in its order.

Both indexes are kept on the store and each variant is forced onto its own by
``INDEXED BY``. The store is kept in ``--folder`` and reused.

    python -m bench.agent_loads [--open 100000] [--rounds 4] [--lookups 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

from services.router.store import repositories
from services.router.store.engine import build_engine, migrate

AGENTS = [f"bench-{n}" for n in range(6)]
BEFORE = ("ix_conversations_assignee_status", "GROUP BY assignee_id, channel")
AFTER = ("ix_conversations_assignee_status_channel", "GROUP BY assignee_id, status, channel")


def _value(name: str, declared: str, n: int) -> Any:
    fixed: dict[str, Any] = {
        "id": f"{n:08d}-0000-8000-8000-{n:012d}",
        "reference": f"R{n:09d}",
        "contact_id": f"contact-{n % 60000}",
        "channel": "email" if n % 2 else "chat",
        "status": "open",
        "assignee_id": AGENTS[n % len(AGENTS)],
        "queue": "general",
        "subject": f"A question about my order number {n}",
        "customer": f'{{"email": "c{n}@customer.example", "name": "Customer {n}"}}',
    }
    if name in fixed:
        return fixed[name]
    if name in ("tags", "skills", "references"):
        return '["en"]'
    if name == "customer_flags":
        return "{}"
    kind = declared.upper()
    if "INT" in kind or "BOOL" in kind:
        return 0
    if "FLOAT" in kind or "REAL" in kind:
        return 0.0
    if "DATETIME" in kind:
        return "2026-11-29 08:00:00.000000"
    return "x" * 12


def build_store(path: Path, count: int) -> None:
    async def migrated() -> None:
        engine = build_engine(f"sqlite+aiosqlite:///{path}")
        await migrate(engine)
        await engine.dispose()

    asyncio.run(migrated())
    db = sqlite3.connect(path)
    columns = [(row[1], row[2]) for row in db.execute("PRAGMA table_info(conversations)")]
    names = ", ".join(f'"{name}"' for name, _ in columns)
    marks = ", ".join("?" * len(columns))
    db.executemany(
        f"INSERT INTO conversations ({names}) VALUES ({marks})",  # noqa: S608
        ([_value(name, kind, n) for name, kind in columns] for n in range(count)),
    )
    db.execute(f"CREATE INDEX IF NOT EXISTS {BEFORE[0]} ON conversations (assignee_id, status)")
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()


def sql_of(variant: tuple[str, str]) -> str:
    index, group_by = variant
    sql = repositories._LOADS.sqlite_for(len(AGENTS))
    sql = sql.replace("GROUP BY assignee_id, status, channel", group_by)
    return sql.replace("FROM conversations", f"FROM conversations INDEXED BY {index}")


def cpu_ms(db: sqlite3.Connection, sql: str, lookups: int) -> float:
    started = time.process_time()
    for _ in range(lookups):
        db.execute(sql, AGENTS).fetchall()
    return (time.process_time() - started) / lookups * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000, help="open conversations")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved before/after rounds")
    parser.add_argument("--lookups", type=int, default=3, help="lookups timed per round")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/bench-agent-loads"))
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    path = args.folder / f"store-{args.open}.db"
    if not path.exists():
        build_store(path, args.open)
    db = sqlite3.connect(path)
    variants = {"before": BEFORE, "after": AFTER}
    results: dict[str, list[float]] = {name: [] for name in variants}
    counts = {}
    for _ in range(args.rounds):
        for name, variant in variants.items():
            results[name].append(cpu_ms(db, sql_of(variant), args.lookups))
    for name, variant in variants.items():
        rows = db.execute(sql_of(variant), AGENTS).fetchall()
        counts[name] = sum(count for *_, count in rows)
        plan = [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql_of(variant)}", AGENTS)]
        times = results[name]
        print(
            f"{name}: median {statistics.median(times):.1f} ms a lookup"
            f" (min {min(times):.1f}, max {max(times):.1f}); plan {plan}"
        )
    assert counts["before"] == counts["after"] == args.open, counts
    print(f"open conversations {args.open}, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""Store ceiling: how fast the router's database takes the rows of routing decisions.

The router's figure (interactions → decisions per second) is compared to this:
the same tables, the same engine construction and migrations the router uses
(``services.router.store.engine``), written with SQLAlchemy Core bulk inserts
(one executemany statement per table, one transaction per batch of
``--batch`` interactions, the router's ``consumer_max_batch``), the router's own
``BulkInserter`` (``services/router/store/bulk.py``: tuples straight to the driver's
executemany, binary COPY on PostgreSQL), and on PostgreSQL binary COPY per table
(asyncpg); the fastest is the ceiling. No reads, no
decisions, no Kafka: only the writes, so it is an upper bound on what any
router built on this store can do.

Each interaction is written as the rows of a new conversation (the router's
heaviest common case, see ``services/router/service/interactions.py``): a
contact and its identity, the conversation, the interaction record, its
Message-ID, four SLA timers (warning and breach of first response and
resolution) and three outbox rows (InteractionRouted, ConversationOpened,
ConversationAssigned) — 12 rows.

SQLite: a file in a temporary folder (WAL, synchronous=FULL, as the router).
PostgreSQL: a private server from the Debian packages
(``tools.testing.postgres``; fsync off, as in the router benchmark).

Then the store's latency ceiling (``paced_commits``): transactions of a 1,000/s poll's
rows (~27 interactions), one every 27 ms, each timed to its COMMIT: p50 / p99 / max.

    python -m bench.store_ceiling [--store all|sqlite|postgresql] [--count 20000] [--batch 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.common import latency_summary_ms, write_result
from services.router.store.bulk import BulkInserter
from services.router.store.engine import build_engine, migrate
from services.router.store.models import (
    Contact,
    ContactIdentity,
    Conversation,
    InteractionRecord,
    MessageIndex,
    OutboxRow,
    SlaTimer,
)
from tools.testing.postgres import PostgresServer, postgres_for_tests

#: Foreign-key order, as the router's unit of work flushes them.
TABLES: tuple[sa.Table, ...] = tuple(
    model.__table__  # type: ignore[misc]
    for model in (
        Contact,
        ContactIdentity,
        Conversation,
        InteractionRecord,
        MessageIndex,
        SlaTimer,
        OutboxRow,
    )
)
OUTBOX_TYPES = (
    "support.routing.interaction_routed.v1",
    "support.routing.conversation_opened.v1",
    "support.routing.conversation_assigned.v1",
)
#: A routing event's JSON is about this long (conversation snapshot included).
PAYLOAD_BYTES = 1200


def interaction_rows(run: str, n: int, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The rows the router writes for interaction ``n`` opening a new conversation."""
    contact = f"{run}-k{n}"
    conversation = f"{run}-c{n}"
    email = f"{run}.customer{n}@example.com"
    message_id = f"{run}.{n}@mail.example.com"
    customer = {"email": email, "display_name": f"Customer {n}", "locale": "ko-KR"}
    timers = [
        {
            "conversation_id": conversation,
            "metric": metric,
            "kind": kind,
            "cycle": 1,
            "target_minutes": minutes,
            "clock_started_at": now,
            "breach_at": now + timedelta(minutes=minutes),
            "due_at": now + timedelta(minutes=minutes * (0.8 if kind == "warning" else 1)),
            "fired_at": None,
            "cancelled_at": None,
        }
        for metric, minutes in (("first_response", 60), ("resolution", 480))
        for kind in ("warning", "breach")
    ]
    payload = json.dumps({"conversation": {"conversation_id": conversation, **customer}})
    payload += " " * max(0, PAYLOAD_BYTES - len(payload))
    outbox = [
        {
            "event_id": f"{run}-e{n}-{ordinal}",
            "ce_type": ce_type,
            "conversation_id": conversation,
            "occurred_at": now,
            "payload": payload,
        }
        for ordinal, ce_type in enumerate(OUTBOX_TYPES)
    ]
    return {
        "contacts": [
            {
                "id": contact,
                "display_name": customer["display_name"],
                "locale": "ko-KR",
                "created_at": now,
                "tombstone_id": None,
                "erased_at": None,
            }
        ],
        "contact_identities": [{"kind": "email", "value": email, "contact_id": contact}],
        "conversations": [_conversation(conversation, contact, n, customer, message_id, now)],
        "interactions": [
            {
                "event_id": f"{run}-i{n}",
                "conversation_id": conversation,
                "contact_id": contact,
                "channel": "email",
                "direction": "inbound",
                "kind": "message",
                "occurred_at": now,
                "processed_at": now,
                "message_id": message_id,
                "author": customer["display_name"],
                "subject": "입금이 반영되지 않았어요 / deposit not credited",
                "text": "안녕하세요, 어제 입금한 금액이 아직 반영되지 않았습니다. " * 4,
                "note": "new conversation",
            }
        ],
        "message_ids": [{"message_id": message_id, "conversation_id": conversation}],
        "sla_timers": timers,
        "outbox": outbox,
    }


def _conversation(
    conversation: str,
    contact: str,
    n: int,
    customer: dict[str, str],
    message_id: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": conversation,
        "reference": f"B-{conversation}"[:20],
        "contact_id": contact,
        "channel": "email",
        "provider": "imap",
        "integration": "support",
        "status": "assigned",
        "queue": "general",
        "priority": "normal",
        "language": "ko",
        "subject": "입금이 반영되지 않았어요",
        "tags": ["deposit"],
        "skills": ["ko"],
        "automated": False,
        "customer": customer,
        "customer_flags": {},
        "assignee_id": None,  # agents are not part of the ceiling's rows
        "queued_at": now,
        "opened_at": now,
        "last_activity_at": now,
        "first_response_due_at": now + timedelta(minutes=60),
        "awaiting_since": now,
        "policy": "default",
        "resolution_elapsed_minutes": 0.0,
        "resolution_running_since": now,
        "breached": False,
        "escalation_level": 0,
        "clock_cycle": 1,
        "last_message_id": message_id,
        "references": [message_id],
        "thread_key": f"email:{n}",
        "customer_last_inbound_at": now,
        "assistant_answers": 0,
    }


def batches(run: str, count: int, size: int) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Rows of ``count`` interactions, grouped per table, ``size`` interactions at a time."""
    now = datetime.now(UTC)
    for start in range(0, count, size):
        grouped: dict[str, list[dict[str, Any]]] = {table.name: [] for table in TABLES}
        for n in range(start, min(count, start + size)):
            for name, rows in interaction_rows(run, n, now).items():
                grouped[name].extend(rows)
        yield grouped


async def write_batch(engine: AsyncEngine, grouped: dict[str, list[dict[str, Any]]]) -> int:
    """One transaction, one executemany INSERT per table; returns the rows written."""
    written = 0
    async with engine.begin() as connection:
        for table in TABLES:
            rows = grouped[table.name]
            if rows:
                await connection.execute(sa.insert(table), rows)
                written += len(rows)
    return written


async def copy_batch(engine: AsyncEngine, grouped: dict[str, list[dict[str, Any]]]) -> int:
    """PostgreSQL only: one transaction, one binary COPY per table (asyncpg)."""
    written = 0
    async with engine.begin() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        for table in TABLES:
            rows = grouped[table.name]
            if not rows:
                continue
            columns = list(rows[0])
            as_json = {c for c in columns if isinstance(table.c[c].type, sa.JSON)}
            records = [
                tuple(json.dumps(row[c]) if c in as_json else row[c] for c in columns)
                for row in rows
            ]
            await raw.copy_records_to_table(table.name, records=records, columns=columns)
            written += len(rows)
    return written


async def driver_batch(engine: AsyncEngine, grouped: dict[str, list[dict[str, Any]]]) -> int:
    """One transaction, the router's BulkInserter per table (what its unit of work uses)."""
    inserter = _inserters.setdefault(id(engine), BulkInserter(engine.dialect))
    written = 0
    async with AsyncSession(engine) as session, session.begin():
        for table in TABLES:
            rows = grouped[table.name]
            if rows:
                await inserter.insert(session, table, rows)
                written += len(rows)
    return written


_inserters: dict[int, BulkInserter] = {}
Writer = Callable[[AsyncEngine, dict[str, list[dict[str, Any]]]], Awaitable[int]]
WRITERS: dict[str, Writer] = {
    "executemany": write_batch,
    "driver": driver_batch,
    "copy": copy_batch,
}


async def measure(
    store: str, url: str, count: int, batch: int, *, method: str = "executemany"
) -> dict[str, Any]:
    write = WRITERS[method]
    engine = build_engine(url)
    try:
        await migrate(engine)
        run = uuid.uuid4().hex[:6]
        for grouped in batches(f"w{run}", batch, batch):  # statements compile and cache
            await write(engine, grouped)
        prepared = list(batches(run, count, batch))  # rows built before the clock starts
        rows = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        for grouped in prepared:
            rows += await write(engine, grouped)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started  # this process (SQLite's thread included)
    finally:
        await engine.dispose()
    figures = {
        "store": store,
        "method": method,
        "interactions": count,
        "rows": rows,
        "rows_per_interaction": rows // max(count, 1),
        "batch": batch,
        "seconds": round(elapsed, 3),
        "interactions_per_s": round(count / elapsed, 1),
        "rows_per_s": round(rows / elapsed, 1),
        "cpu_seconds": round(cpu, 3),
    }
    print(f"{store}: {figures}", flush=True)
    return figures


async def paced_commits(
    url: str, count: int, batch: int, interval_s: float, *, method: str = "driver"
) -> dict[str, Any]:
    """The store's own latency at a steady rate: ``count`` transactions of ``batch``
    interactions' rows (the router's poll at 1,000/s holds ~27), one every ``interval_s``,
    each timed from its start to its COMMIT's return. On SQLite that includes the fsync
    of each COMMIT (synchronous=FULL, as the router): the disk's stalls, which no router
    on this store can route around, show here as they do in the router's p99."""
    write = WRITERS[method]
    engine = build_engine(url)
    try:
        await migrate(engine)
        run = uuid.uuid4().hex[:6]
        prepared = list(batches(f"p{run}", count * batch, batch))
        await write(engine, next(iter(batches(f"q{run}", batch, batch))))  # compile, cache
        took: list[float] = []
        began = time.perf_counter()
        for n, grouped in enumerate(prepared):
            delay = began + n * interval_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            started = time.perf_counter()
            await write(engine, grouped)
            took.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return {
        "transactions": count,
        "interactions_each": batch,
        "interval_ms": round(interval_s * 1000, 1),
        "method": method,
        **latency_summary_ms(took),
        "over_25_ms": sum(1 for t in took if t > 0.025),
    }


async def main(args: argparse.Namespace) -> None:
    stores: list[tuple[str, AbstractContextManager[PostgresServer | None]]] = [
        ("sqlite", nullcontext()),
        ("postgresql", postgres_for_tests()),
    ]
    runs: dict[str, dict[str, Any]] = {}
    for name, server_context in stores:
        if args.store not in ("all", name):
            continue
        with server_context as server, tempfile.TemporaryDirectory(prefix="store-ceiling-") as tmp:
            url = (
                server.create_database()
                if server is not None
                else f"sqlite+aiosqlite:///{tmp}/router.db"
            )
            methods = ["executemany", "driver"] + (["copy"] if server is not None else [])
            measured = [await measure(name, url, args.count, args.batch, method=m) for m in methods]
            best = max(measured, key=lambda m: m["interactions_per_s"])
            paced = await paced_commits(
                url, args.paced_count, args.paced_batch, args.paced_interval_ms / 1000
            )
            print(f"{name} paced commits: {paced}", flush=True)
            runs[name] = {
                **best,
                "methods": {m["method"]: m for m in measured},
                "paced_commits": paced,
            }
    write_result(
        "store_ceiling",
        {
            "what": "bulk insert of a new conversation's rows into the router's tables "
            "(build_engine + migrate), one transaction per batch; per store the fastest of "
            "Core executemany, the router's BulkInserter and (PostgreSQL) COPY",
            "runs": runs,
        },
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["all", "sqlite", "postgresql"], default="all")
    parser.add_argument("--count", type=int, default=20_000, help="interactions written")
    parser.add_argument("--batch", type=int, default=500, help="interactions per transaction")
    parser.add_argument(
        "--paced-count", type=int, default=200, help="paced transactions (latency ceiling)"
    )
    parser.add_argument(
        "--paced-batch", type=int, default=27, help="interactions per paced transaction"
    )
    parser.add_argument(
        "--paced-interval-ms", type=float, default=27.0, help="one paced transaction every"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

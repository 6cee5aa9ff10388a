"""The router's Kafka side alone: CPU per outbox row relayed, and per record decoded.

Routes polls in this process (SQLite, as ``bench.router_poll_cpu`` does, no consumer),
so the outbox fills with the router's own rows, handed over to the relay as in the
service; after each poll one relay round (``publish_pending``) publishes them to a
fresh topic on a real broker, and every ``--mark-every`` rounds one ``mark_published``
marks them sent (the rounds in between leave the published, unmarked rows out). CPU is
``time.process_time`` (this process, all its threads: aiosqlite's and aiokafka's; not
the broker's), so it is steadier than wall-clock on a shared machine. Then the
records are read back from the topic and ``cloudevents.decode`` is timed over them
(what the notifier does per routing event), and over the interactions routed (what
the router's consumer does per interaction), and ``cloudevents.encode`` over both.

Usage: python -m bench.relay_cost [--polls 20] [--size 250] [--mark-every 3] [--partitions 6]
                                  [--store sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import bootstrap_servers, router_store_url, write_result
from bench.router_poll_cpu import Traffic
from libs.common.cloudevents import CloudEvent, decode, encode
from libs.common.gc_tuning import tune_for_polls
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.relay import BatchPublisher, OutboxRelay
from services.router.service.agents import seed_agents
from services.router.service.context import RouterContext
from services.router.service.interactions import route_batch
from services.router.settings import RouterSettings
from services.router.store.outbox import CommittedOutbox

#: decode is timed over the records this many times (µs figures from the best pass)
DECODE_PASSES = 5


async def relay_rounds(
    kafka: KafkaSettings,
    topic: str,
    polls: int,
    size: int,
    mark_every: int = 3,
    store: str = "sqlite",
) -> tuple[dict[str, float], list[CloudEvent]]:
    with (
        tempfile.TemporaryDirectory(prefix="relay-cost-") as folder,
        router_store_url(store, prefix="relay-cost-") as url,
    ):
        settings = RouterSettings(
            state_dir=Path(folder), database_url=url, kafka=kafka, dev_mode=False
        )
        engine = await open_store(settings)
        committed = CommittedOutbox()
        ctx = build_context(settings, engine, hand_over=committed.hand_over)
        await seed_agents(ctx)
        tune_for_polls()  # the service's collector settings, as bench.router_poll_cpu
        publisher = BatchPublisher(kafka, client_id="bench-relay")
        await publisher.start()
        relay = OutboxRelay(ctx.uow, publisher, topic=topic, committed=committed)
        traffic = Traffic()
        interactions: list[CloudEvent] = []
        publish_us: list[float] = []
        mark_cpu_s = 0.0
        rows = marked_rows = wal_bytes = 0
        postgres = ctx.uow.postgres
        try:
            for n in range(polls + 2):  # the first two warm up (metadata, statements)
                poll = traffic.poll(size)
                interactions.extend(
                    CloudEvent(
                        id=i.event_id,
                        source="bench",
                        type=i.interaction.ce_type,
                        data=i.interaction,
                    )
                    for i in poll
                )
                await route_batch(ctx, poll)
                lsn = await _wal_lsn(engine) if postgres else 0
                began = time.process_time()
                sent = await relay.publish_pending()
                published = time.process_time()
                if postgres and n >= 2:  # the round's mark is in its transaction
                    wal_bytes += await _wal_lsn(engine) - lsn
                marked = 0
                if (n + 1) % mark_every == 0 or n == polls + 1:
                    marked = await relay.mark_published()
                done = time.process_time()
                if n >= 2:
                    rows += sent
                    publish_us.append((published - began) * 1e6 / sent)
                    mark_cpu_s += done - published
                    marked_rows += marked
            wal = None if postgres else await mark_wal_pages(engine, relay, traffic, ctx, size)
        finally:
            await relay.close()
            await publisher.stop()
            await engine.dispose()
    figures = {
        "rows": rows,
        "rows_per_interaction": round(rows / (polls * size), 2),
        "publish_cpu_us_per_row": round(statistics.median(publish_us), 1),
        "mark_cpu_us_per_row": round(mark_cpu_s * 1e6 / marked_rows, 1) if marked_rows else None,
        "mark_wal_pages": wal,
        # PostgreSQL: WAL the rounds wrote (their marks), per row published
        "round_wal_bytes_per_row": round(wal_bytes / rows, 1) if postgres else None,
        "store": store,
    }
    return figures, interactions


async def _wal_lsn(engine: AsyncEngine) -> int:
    """PostgreSQL: the current WAL position, in bytes."""
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        return int(result.scalar_one())


async def mark_wal_pages(
    engine: AsyncEngine, relay: OutboxRelay, traffic: Traffic, ctx: RouterContext, size: int
) -> dict[str, int]:
    """WAL pages (frames) one mark writes: a poll routed and published, the WAL emptied
    (``wal_checkpoint(TRUNCATE)``, nothing else reading), then the mark of its rows, and
    the WAL's frame count read back (below SQLite's 1,000-frame autocheckpoint)."""
    await route_batch(ctx, traffic.poll(size))
    rows = await relay.publish_pending()
    async with engine.connect() as connection:
        await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    await relay.mark_published()
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        _busy, frames, _done = result.one()
    return {"rows": rows, "frames": int(frames)}


async def read_back(kafka: KafkaSettings, topic: str, count: int) -> list[tuple[list, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, **kafka.client_options(), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[tuple[list, bytes]] = []
    try:
        while len(records) < count:
            batch = await consumer.getmany(timeout_ms=2000, max_records=5000)
            if not batch:
                break
            records.extend((r.headers, r.value) for rs in batch.values() for r in rs)
    finally:
        await consumer.stop()
    return records


def encode_us(events: list[CloudEvent]) -> float:
    """``cloudevents.encode`` per event (what a producer does before publishing: the
    notifier per outcome, the ingest services per interaction)."""
    best = float("inf")
    for _ in range(DECODE_PASSES):
        began = time.process_time()
        for event in events:
            encode(event)
        best = min(best, time.process_time() - began)
    return round(best * 1e6 / len(events), 2)


def decode_us(records: list[tuple[list, bytes]]) -> float:
    best = float("inf")
    for _ in range(DECODE_PASSES):
        began = time.process_time()
        for headers, value in records:
            decode(headers, value)
        best = min(best, time.process_time() - began)
    return round(best * 1e6 / len(records), 2)


async def main(args: argparse.Namespace) -> dict:
    kafka = KafkaSettings(bootstrap_servers=bootstrap_servers())
    topic = f"bench-relay-{uuid.uuid4().hex[:8]}"
    await create_topics(kafka, [NewTopic(topic, args.partitions, 1)])
    try:
        figures, interactions = await relay_rounds(
            kafka, topic, args.polls, args.size, args.mark_every, args.store
        )
        routing = await read_back(kafka, topic, 10**9)
    finally:
        await delete_topics(kafka, [topic])
    encoded = [encode(event) for event in interactions]
    figures["decode_us_per_routing_event"] = decode_us([(list(h), v) for h, v in routing])
    figures["decode_us_per_interaction"] = decode_us(encoded)
    figures["encode_us_per_routing_event"] = encode_us([decode(h, v) for h, v in routing])
    figures["encode_us_per_interaction"] = encode_us(interactions)
    figures["load_average_1m"] = os.getloadavg()[0]
    return figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=20, help="measured polls (and rounds)")
    parser.add_argument("--size", type=int, default=250, help="interactions per poll")
    parser.add_argument(
        "--mark-every",
        type=int,
        default=3,
        help="rounds per mark (the service marks every 0.25 s: ~3 polls at the backlog's pace)",
    )
    parser.add_argument("--partitions", type=int, default=6, help="of the bench's topic")
    parser.add_argument(
        "--store",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="postgresql: the round marks in its transaction (no separate mark), and its WAL"
        " bytes are counted",
    )
    return parser.parse_args()


if __name__ == "__main__":
    result = asyncio.run(main(parse_args()))
    for key, value in result.items():
        print(f"{key:32} {value}")
    write_result("relay_cost", result)

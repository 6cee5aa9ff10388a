"""The interactions consumer's fetch wait, alone: what its fetch limits cost in latency
and in polls at a given rate, whatever else the machine runs.

The router's interactions consumer (``ConsumerRunner`` with the router's fetch limits)
reads interactions published on a schedule (the ``bench.router_throughput`` records, 6
partitions); its batch handler stands in for the routing with a sleep of ``--poll-ms`` +
``--record-ms`` a record (a poll's fixed and per-record time, taken from the router's
measured CPU), so polls take as long as the router's but need no CPU: the figures
are the broker's and the consumer's waits, the part a setting decides, not the
machine's load. Per rate and per ``--min-bytes`` value (interleaved, ``--repeats``
each): from each record's due time to the bench producer's ack (``acked``: the bench's
own, whatever the limits), to its poll being handed (``fetched``; ``acked_to_fetched`` is
the fetch's wait alone) and to that poll's end (``handled``), p50/p99; polls a second and
records a poll. Polls a second times the router's fixed CPU a poll is what the limits
cost.

Measured at 25-1,000/s, 2 interleaved runs each (load 10-13), 64 / 32 / 16 KiB: at 25
and 100/s the same 9.7-9.9 polls a second and due-to-fetched p50 55-62 ms whatever the
value (the 100 ms wait ends each fetch); at 250/s 9.3 / 9.9 / 18.5 polls, p50 66 / 58-61
/ 31-35 ms; at 500/s 9.4-9.9 / 17.8-18.6 / 32-35 polls, p50 60 / 31-37 / 18-22 ms; at
1,000/s 16-17 / 31-32 / 36-49 polls, p50 40-41 / 22 / 18-38 ms. The p99s at 1,000/s
(180-510 ms) were the bench producer's own acks under that load, not the fetch.

    python -m bench.router_fetch_wait [--rates 25,100,250,500,1000] [--seconds 4]
        [--min-bytes 65536,32768,16384] [--max-wait-ms 100] [--repeats 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid
from functools import partial

from bench.common import bootstrap_servers, delete_run_topics, paced, percentile, write_result
from bench.router_throughput import interaction, kafka_settings
from libs.common.cloudevents import CloudEvent
from libs.common.kafka.admin import create_topics
from libs.common.kafka.consumer import ConsumerRunner, Delivery
from libs.common.kafka.producer import EventProducer
from services.router.settings import RouterSettings

#: the records published before a phase's window opens (the consumer joined and polling)
WARM_UP_S = 1.5


async def phase(
    servers: str,
    producer: EventProducer,
    *,
    rate: int,
    seconds: float,
    min_bytes: int,
    max_wait_ms: int,
    poll_s: float,
    record_s: float,
    start: int,
) -> dict[str, float]:
    due: dict[str, float] = {}
    acked: dict[str, float] = {}
    fetched: dict[str, float] = {}
    handled: dict[str, float] = {}
    polls: list[tuple[float, int]] = []
    published = asyncio.Event()  # every record of the phase sent and acknowledged
    all_handled = asyncio.Event()  # ... and handled
    kafka = kafka_settings(servers)  # fresh topics: the consumer reads only this phase's
    await create_topics(kafka)

    async def handle(deliveries: list[Delivery]) -> None:
        began = time.perf_counter()
        polls.append((began, len(deliveries)))
        for delivery in deliveries:
            fetched[delivery.event_id or ""] = began
        await asyncio.sleep(poll_s + record_s * len(deliveries))
        ended = time.perf_counter()
        for delivery in deliveries:
            handled[delivery.event_id or ""] = ended
        if published.is_set() and all(event_id in handled for event_id in due):
            all_handled.set()

    async def one(_delivery: Delivery) -> None:  # the per-record fallback: never used here
        raise AssertionError("the batch handler failed")

    runner = ConsumerRunner(
        kafka,
        topics=[kafka.topics.interactions],
        group_id=f"fetch-wait-{uuid.uuid4().hex[:8]}",
        stage="bench.fetch_wait",
        handler=one,
        batch_handler=handle,
        producer=producer,
        max_batch=RouterSettings.model_fields["consumer_max_batch"].default,
        max_partition_fetch_bytes=RouterSettings.model_fields["consumer_partition_fetch_kb"].default
        * 1024,
        fetch_max_wait_ms=max_wait_ms,
        fetch_min_bytes=min_bytes,
    )
    stop = asyncio.Event()
    consuming = asyncio.create_task(runner.run(stop))
    await runner.started.wait()
    total = int(rate * (WARM_UP_S + seconds))
    began = time.perf_counter()
    window = began + WARM_UP_S
    sends = []
    async for n, at in paced(total, rate, began):
        body = interaction(start + n)
        event_id = f"fw-{uuid.uuid4()}"
        if at >= window:
            due[event_id] = at
        event = CloudEvent(id=event_id, source="bench", type=body.event_type(), data=body)
        send = asyncio.create_task(
            producer.publish(kafka.topics.interactions, event, key=body.customer_key)
        )
        send.add_done_callback(partial(_stamp, acked, event_id))
        sends.append(send)
    await asyncio.gather(*sends)
    published.set()
    if all(event_id in handled for event_id in due):
        all_handled.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_handled.wait(), 10)
    stop.set()
    await consuming
    await asyncio.to_thread(delete_run_topics, kafka)
    ended = max(handled[e] for e in due if e in handled)
    in_window = [(at, n) for at, n in polls if at >= window]
    to_fetched = [(fetched[e] - at) * 1000 for e, at in due.items() if e in fetched]
    to_acked = [(acked[e] - at) * 1000 for e, at in due.items() if e in acked]
    acked_to_fetched = [(fetched[e] - acked[e]) * 1000 for e in due if e in fetched]
    to_handled = [(handled[e] - at) * 1000 for e, at in due.items() if e in handled]
    return {
        "rate_per_s": rate,
        "min_bytes": min_bytes,
        "max_wait_ms": max_wait_ms,
        "records": len(due),
        "lost": len(due) - len(to_handled),
        "acked_p50_ms": round(percentile(to_acked, 50), 1),
        "acked_p99_ms": round(percentile(to_acked, 99), 1),
        "acked_to_fetched_p50_ms": round(percentile(acked_to_fetched, 50), 1),
        "acked_to_fetched_p99_ms": round(percentile(acked_to_fetched, 99), 1),
        "fetched_p50_ms": round(percentile(to_fetched, 50), 1),
        "fetched_p99_ms": round(percentile(to_fetched, 99), 1),
        "handled_p50_ms": round(percentile(to_handled, 50), 1),
        "handled_p99_ms": round(percentile(to_handled, 99), 1),
        "polls_per_s": round(len(in_window) / (ended - window), 1),
        "records_per_poll": round(statistics.fmean(n for _, n in in_window), 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def _stamp(stamps: dict[str, float], event_id: str, _task: object) -> None:
    stamps[event_id] = time.perf_counter()


async def main(args: argparse.Namespace) -> None:
    servers = bootstrap_servers()
    producer = EventProducer(kafka_settings(servers), client_id="bench")
    await producer.start()
    runs = []
    start = 0
    try:
        for rate in args.rates:
            for _ in range(args.repeats):
                for min_bytes in args.min_bytes:  # interleaved: the load drifts
                    figures = await phase(
                        servers,
                        producer,
                        rate=rate,
                        seconds=args.seconds,
                        min_bytes=min_bytes,
                        max_wait_ms=args.max_wait_ms,
                        poll_s=args.poll_ms / 1000,
                        record_s=args.record_ms / 1000,
                        start=start,
                    )
                    start += int(rate * (WARM_UP_S + args.seconds))
                    print(figures, flush=True)
                    runs.append(figures)
    finally:
        await producer.stop()
    write_result(
        "router_fetch_wait",
        {"poll_ms": args.poll_ms, "record_ms": args.record_ms, "runs": runs},
    )


def parse_args() -> argparse.Namespace:
    def ints(text: str) -> list[int]:
        return [int(part) for part in text.split(",")]

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=ints, default=[25, 100, 250, 500, 1000])
    parser.add_argument("--seconds", type=float, default=4.0, help="each phase's window")
    parser.add_argument(
        "--min-bytes",
        type=ints,
        default=[65_536, 32_768, 16_384],
        help="the consumer's fetch_min_bytes values to compare",
    )
    parser.add_argument(
        "--max-wait-ms",
        type=int,
        default=RouterSettings.model_fields["consumer_fetch_max_wait_ms"].default,
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--poll-ms", type=float, default=4.0, help="a poll's fixed time")
    parser.add_argument("--record-ms", type=float, default=0.45, help="a poll's time a record")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

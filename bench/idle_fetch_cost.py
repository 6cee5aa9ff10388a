"""What an empty fetch costs: the broker's CPU and the consumers' own, per fetch.

An idle consumer (and a busy one whose fetch waits out ``fetch_max_wait_ms`` before
``fetch_min_bytes`` arrive) sends a fetch every ``fetch_max_wait_ms``; the broker holds
it in its purgatory and answers it empty. With the pipeline's services idle these
fetches were nearly all the requests the broker served (``bench.broker_idle_cpu
--requests``: 41 of 43 a second). This runs ``--consumers`` idle aiokafka consumers
(one group each, a topic of 3 partitions, fetch_min_bytes 64 KB as the services) at
each ``--waits`` value in turn, ``--pairs`` times interleaved (the machine's load
drifts), and reports the broker's and this process's CPU-ms a second; the difference
between two waits divided by the difference in fetches a second is the cost of one.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19142 python -m bench.idle_fetch_cost --waits 50,500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic

from bench.common import bootstrap_servers
from bench.cpu_accounting import TICKS_PER_S, CpuMeter, CpuSample, broker_pid
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.settings import KafkaSettings

FETCH_MIN_BYTES = 65_536  # KafkaSettings' default: what the services' consumers ask
WARM_S = 5.0  # joined, assigned, fetching


async def idle_consumers(
    kafka: KafkaSettings, topic: str, wait_ms: int, count: int, seconds: float, meter: CpuMeter
) -> dict[str, Any]:
    """CPU-ms a second of the broker and this process with ``count`` idle consumers."""
    consumers = [
        AIOKafkaConsumer(
            topic,
            **kafka.client_options(),
            group_id=f"{topic}-{wait_ms}-{n}",
            enable_auto_commit=False,
            fetch_min_bytes=FETCH_MIN_BYTES,
            fetch_max_wait_ms=wait_ms,
        )
        for n in range(count)
    ]
    for consumer in consumers:
        await consumer.start()

    async def poll(consumer: AIOKafkaConsumer) -> None:
        while True:
            await consumer.getmany(timeout_ms=500)

    polls = [asyncio.create_task(poll(c)) for c in consumers]
    try:
        await asyncio.sleep(WARM_S)
        before = meter.sample()
        await asyncio.sleep(seconds)
        after = meter.sample()
    finally:
        for task in polls:
            task.cancel()
        for consumer in consumers:
            await consumer.stop()
    return {
        "fetch_max_wait_ms": wait_ms,
        "consumers": count,
        "fetches_per_s_at_most": round(count * 1000 / max(wait_ms, 1), 1),
        "cpu_ms_per_s": cpu_ms_per_s(before, after),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def cpu_ms_per_s(before: CpuSample, after: CpuSample) -> dict[str, float]:
    """CPU-ms a second of each process sampled in both (a process gone: left out)."""
    elapsed = after.at - before.at
    rates = {}
    for name, end in after.ticks.items():
        start = before.ticks.get(name)
        if start is not None and end is not None:
            rates[name] = round((end - start) * 1000 / TICKS_PER_S / elapsed, 1)
    return rates


async def run(waits: list[int], consumers: int, seconds: float, pairs: int) -> dict[str, Any]:
    bootstrap = bootstrap_servers()
    topic = f"idle-fetch-{uuid.uuid4().hex[:8]}"
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    await create_topics(kafka, names=[NewTopic(topic, num_partitions=3, replication_factor=1)])
    meter = CpuMeter({"kafka broker": broker_pid(bootstrap)}, alone={"consumers": os.getpid()})
    runs = []
    try:
        for _ in range(pairs):
            for wait in waits:
                runs.append(await idle_consumers(kafka, topic, wait, consumers, seconds, meter))
                print(json.dumps(runs[-1]), flush=True)
    finally:
        await delete_topics(kafka, [topic])
    return {"bootstrap": bootstrap, "seconds": seconds, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", default="50,500", help="fetch_max_wait_ms values, in turn")
    parser.add_argument("--consumers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    waits = [int(w) for w in args.waits.split(",")]
    asyncio.run(run(waits, args.consumers, args.seconds, args.pairs))


if __name__ == "__main__":
    main()

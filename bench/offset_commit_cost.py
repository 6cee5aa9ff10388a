"""CPU of one Kafka offset commit in a consumer's process (aiokafka, a real broker).

A consumer joins a group on a fresh topic (``--partitions``), reads what was produced
to it, then commits its offsets ``--commits`` times, one after the other, each with
offsets one further on every partition (as a runner's commit after a poll). CPU is
``time.process_time`` of this process (the event loop's and aiokafka's work: request
coding, the response, the loop's wake-ups), not the broker's. Runs ``--runs`` times
and reports each run's CPU per commit and the median.

    python -m bench.offset_commit_cost [--commits 200] [--partitions 3] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from bench.common import bootstrap_servers, write_result
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.settings import KafkaSettings


async def one_run(kafka: KafkaSettings, partitions: int, commits: int) -> float:
    """CPU-µs per commit of one run."""
    topic = f"bench-commit-{uuid.uuid4().hex[:8]}"
    await create_topics(kafka, [NewTopic(topic, partitions, 1)])
    try:
        producer = AIOKafkaProducer(**kafka.client_options())
        await producer.start()
        try:
            for partition in range(partitions):
                for _ in range(commits + 1):
                    await producer.send(topic, b"x", partition=partition)
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            **kafka.client_options(),
            group_id=f"{topic}-group",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            while len(consumer.assignment()) < partitions:
                await consumer.getmany(timeout_ms=200)
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            await consumer.commit({tp: 1 for tp in tps})  # the coordinator found
            began = time.process_time()
            for n in range(2, commits + 2):
                await consumer.commit({tp: n for tp in tps})
            took = time.process_time() - began
        finally:
            await consumer.stop()
    finally:
        await delete_topics(kafka, [topic])
    return took * 1e6 / commits


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    kafka = KafkaSettings(bootstrap_servers=bootstrap_servers())
    runs = [await one_run(kafka, args.partitions, args.commits) for _ in range(args.runs)]
    return {
        "commits": args.commits,
        "partitions": args.partitions,
        "cpu_us_per_commit": [round(r, 1) for r in runs],
        "median_cpu_us_per_commit": round(statistics.median(runs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    write_result("offset_commit_cost", asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()

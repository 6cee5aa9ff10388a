"""Produce requests and CPU per record of ``EventProducer.send`` at a steady rate, with the
shared linger window (``LingerWindow``) against aiokafka's linger per partition's batch.

Web-chat events as chat_ingest publishes them (keys spread over the topic's partitions),
sent open loop at ``--rate`` records/s on one event loop (uvloop, as the services run),
each awaiting its ack. Both ways run in this process, interleaved (A, B, A, B, …), on
the same producer settings; the figures are the loop thread's CPU (``time.thread_time``:
the app's share is the same both ways, only aiokafka's differs) and the produce requests
counted at the client. ``per-batch`` is the previous ``_open_batch``: each new batch
lingers its own ``linger_ms``, its own timer wakes the sender::

    python -m bench.producer_linger_window [--rate 500 --seconds 8 --runs 4 --linger-ms 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

from aiokafka.producer.message_accumulator import MessageBatch
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.structs import TopicPartition

from bench.common import bootstrap_servers, delete_run_topics
from bench.producer_send_callgrind import _events
from bench.webhook_load import _create_topics, _run_kafka
from libs.common.kafka import producer as producer_module
from libs.common.webhooks.producer import WebhookEventProducer

WARM_UP = 200


class PerBatchLinger:
    """The previous ``_open_batch``: every batch lingers on its own clock."""

    def open_batch(self, accumulator: Any, tp: TopicPartition) -> MessageBatch:
        batch = MessageBatch(
            tp, accumulator.create_builder(), accumulator._batch_ttl, accumulator._linger_time
        )
        accumulator._batches[tp].append(batch)
        linger = accumulator._linger_time
        if linger > 0:
            asyncio.get_running_loop().call_later(linger, producer_module._wake_sender, accumulator)
        else:
            producer_module._wake_sender(accumulator)
        return batch


def _count_requests(producer: WebhookEventProducer) -> list[int]:
    assert producer._producer is not None
    client = producer._producer.client
    send = client.send
    counted = [0]

    async def counting(node_id: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(request, ProduceRequest):
            counted[0] += 1
        return await send(node_id, request, *args, **kwargs)

    client.send = counting  # type: ignore[method-assign]
    return counted


async def _open_loop(producer: WebhookEventProducer, topic: str, events: list[Any], rate: float):
    loop = asyncio.get_running_loop()
    tasks = []
    start = loop.time()
    for n, event in enumerate(events):
        delay = start + n / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(producer.publish(topic, event.cloud_event(), key=event.key)))
    await asyncio.gather(*tasks)


async def _run(kafka: Any, topic: str, events: list[Any], way: str, rate: float, linger_ms: int):
    producer = WebhookEventProducer(kafka, client_id=f"bench-{way}", linger_ms=linger_ms)
    await producer.start()
    try:
        if way == "per-batch":
            producer._window = PerBatchLinger()  # type: ignore[assignment]
        await _open_loop(producer, topic, events[:WARM_UP], rate)
        counted = _count_requests(producer)
        cpu = time.thread_time()
        await _open_loop(producer, topic, events[WARM_UP:], rate)
        cpu = time.thread_time() - cpu
    finally:
        await producer.stop()
    records = len(events) - WARM_UP
    return {"cpu_us_per_record": cpu / records * 1e6, "records_per_request": records / counted[0]}


def main(args: argparse.Namespace) -> None:
    import uvloop

    kafka = _run_kafka(bootstrap_servers())
    asyncio.run(_create_topics(kafka))
    topic = kafka.topics.interactions
    count = WARM_UP + int(args.rate * args.seconds)
    results: dict[str, list[dict[str, float]]] = {"per-batch": [], "window": []}
    try:
        for run in range(args.runs):
            for way in ("per-batch", "window"):
                events = _events(count)  # fresh ids each run (the same shapes)
                figures = uvloop.run(_run(kafka, topic, events, way, args.rate, args.linger_ms))
                results[way].append(figures)
                print(f"run {run} {way}: {json.dumps(figures)}", flush=True)
    finally:
        delete_run_topics(kafka)
    summary = {
        way: {
            key: {
                "median": round(statistics.median(r[key] for r in runs), 2),
                "min": round(min(r[key] for r in runs), 2),
                "max": round(max(r[key] for r in runs), 2),
            }
            for key in ("cpu_us_per_record", "records_per_request")
        }
        for way, runs in results.items()
    }
    summary["load_average"] = os.getloadavg()  # type: ignore[assignment]
    summary["settings"] = vars(args)  # type: ignore[assignment]
    print(json.dumps(summary, indent=1))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0, help="records/s")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=4, help="of each way, interleaved")
    parser.add_argument("--linger-ms", type=int, default=5, help="chat_ingest's default")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())

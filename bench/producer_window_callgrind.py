"""Instructions per record of ``EventProducer.publish`` when a linger window's records share
one produce request, the same records spread over 6 partitions (a batch each partition
a window holds, as chat_ingest's keys fall) or on one (one batch), to price a record batch.

Each window is ``--window`` publishes started together (as that many webhook requests in
one linger), all awaited before the next window; the measured windows run inside
``operator.call`` so that callgrind collects exactly them::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python -m bench.producer_window_callgrind --partitions 6 [--windows 60]
    # "Collected : N" on stderr: N / records = instructions per record; the script prints
    # the record batches a window held. The difference of two runs (6 and 1 partitions) a
    # window, over the difference of their batches a window, is the fixed work of a batch.

Without valgrind it runs the same windows (a check that the harness works), and prints
the loop thread's CPU per record (``time.thread_time``; noisy, unlike instructions).
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import time

from bench.common import bootstrap_servers, delete_run_topics
from bench.producer_send_callgrind import _events
from bench.webhook_load import _create_topics
from libs.common.kafka.partitioner import KeyPartitioner
from libs.common.settings import KafkaSettings
from libs.common.webhooks.producer import WebhookEventProducer
from libs.providers.inbound import ChatEvent
from tools.testing.system import run_topics

WARM_UP_WINDOWS = 10


def _windows(window: int, count: int) -> list[list[ChatEvent]]:
    """``count`` windows of ``window`` web-chat events (the same ones on every run)."""
    events = _events(window * count)
    return [events[i : i + window] for i in range(0, len(events), window)]


def _batches(windows: list[list[ChatEvent]], partitions: int) -> float:
    """Record batches a window holds (distinct partitions of its keys), on average."""
    partitioner, all_partitions = KeyPartitioner(), range(partitions)
    return sum(
        len({partitioner(e.key.encode(), all_partitions, ()) for e in w}) for w in windows
    ) / len(windows)


async def _publish(
    producer: WebhookEventProducer, topic: str, windows: list[list[ChatEvent]]
) -> None:
    for window in windows:
        await asyncio.gather(
            *(producer.publish(topic, event.cloud_event(), key=event.key) for event in window)
        )


def main(args: argparse.Namespace) -> None:
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap_servers(),
        topics=run_topics("bench", partitions=args.partitions),
    )
    asyncio.run(_create_topics(kafka))
    topic = kafka.topics.interactions
    windows = _windows(args.window, WARM_UP_WINDOWS + args.windows)
    measured = windows[WARM_UP_WINDOWS:]
    producer = WebhookEventProducer(kafka, client_id="bench", linger_ms=args.linger_ms)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(producer.start())
        loop.run_until_complete(_publish(producer, topic, windows[:WARM_UP_WINDOWS]))
        started = time.thread_time()
        # callgrind collects inside operator.call only (--toggle-collect=_operator_call)
        operator.call(loop.run_until_complete, _publish(producer, topic, measured))
        cpu_s = time.thread_time() - started
        loop.run_until_complete(producer.stop())
    finally:
        loop.close()
        delete_run_topics(kafka)
    records = args.window * args.windows
    print(
        f"{records} measured records in {args.windows} windows of {args.window} "
        f"({_batches(measured, args.partitions):.2f} batches a window) to {topic}; "
        f"{cpu_s / records * 1e6:.1f} CPU-µs a record"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--partitions", type=int, default=6, help="the topic's (1: one batch a window)"
    )
    parser.add_argument("--window", type=int, default=10, help="records a linger window")
    parser.add_argument("--windows", type=int, default=60, help="measured windows")
    parser.add_argument("--linger-ms", type=int, default=5)
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())

"""The relay's publish while the event loop is busy: how many turns of a CPU-bound task
(a poll being routed) its produce request and its acks wait behind.

The relay's ``BatchPublisher`` publishes rounds of records to the broker of
``KAFKA_BOOTSTRAP_SERVERS`` while a task of this process spins the CPU in chunks of
``--chunk-ms`` with a yield between them (``asyncio.sleep(0)``, as a poll's awaits let
other tasks run). Per round: the busy task's chunks that ran from the publish to its
produce request being built (``_OnePassProduceHandler.create_request``) and to the
relay resuming with every ack, and the milliseconds. Each chunk the relay waits behind
is a turn of the loop it needed: the count does not depend on the machine's load (the
milliseconds do). Modes, interleaved round by round: ``sender`` — the request sent by
aiokafka's sender task (the producer's wake-up by a future, three turns); ``send_ready``
— the relay starting the request from its own turn (``_OnePassSender.send_ready``).

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19452 python -m bench.relay_ack_turns \\
        [--rounds 60] [--records 60] [--chunk-ms 5]

Measured (load 11, rounds of 60 records of 1 KB), sender -> send_ready: chunks of 5 ms,
40 rounds each: to the request 3.00 -> 1.00 chunks (p50 27.7 -> 8.0 ms), to the acks
8.53 -> 6.62 (p50 76.0 -> 57.5 ms); chunks of 2 ms, 60 rounds each: to the request
3.00 -> 1.00 (p50 13.7 -> 2.7 ms), to the acks 8.97 -> 7.15 (p50 41.5 -> 29.9 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from typing import Any

from bench.common import bootstrap_servers, delete_run_topics, percentile, write_result
from bench.router_throughput import kafka_settings
from libs.common.kafka import produce_request
from libs.common.kafka.admin import create_topics
from services.router.relay import BatchPublisher

MODES = ("sender", "send_ready")


class Busy:
    """A task spinning the CPU ``chunk_s`` at a time, yielding between chunks."""

    def __init__(self, chunk_s: float) -> None:
        self.chunk_s = chunk_s
        self.chunks = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._spin())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _spin(self) -> None:
        while True:
            until = time.perf_counter() + self.chunk_s
            while time.perf_counter() < until:
                pass
            self.chunks += 1
            await asyncio.sleep(0)


def _stamp_requests(busy: Busy, stamps: dict[str, Any]) -> None:
    handler = produce_request._OnePassProduceHandler
    original = handler.create_request

    def create_request(self: Any) -> Any:
        # the first call: the request written from the caller's turn (``write_now``) is
        # asked for again by ``do``
        stamps.setdefault("built", (time.perf_counter(), busy.chunks))
        return original(self)

    handler.create_request = create_request  # type: ignore[method-assign]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    kafka = kafka_settings(bootstrap_servers())
    await create_topics(kafka)
    publisher = BatchPublisher(kafka)
    await publisher.start()
    busy = Busy(args.chunk_ms / 1000)
    stamps: dict[str, Any] = {}
    _stamp_requests(busy, stamps)
    send_ready = produce_request._OnePassSender.send_ready
    value = b"x" * 1000
    figures: dict[str, dict[str, list[float]]] = {
        mode: {"request_chunks": [], "ack_chunks": [], "request_ms": [], "ack_ms": []}
        for mode in MODES
    }
    try:
        await publisher.publish(kafka.topics.routing, [(b"warm-up", value, [])])
        busy.start()
        for n in range(args.rounds):
            for mode in MODES:
                produce_request._OnePassSender.send_ready = (  # type: ignore[method-assign]
                    send_ready if mode == "send_ready" else lambda _self: 0
                )
                records = [
                    (f"c{n}-{i}".encode(), value, [("ce_type", b"bench")])
                    for i in range(args.records)
                ]
                await asyncio.sleep(0.02)  # between rounds, as a round follows a poll
                stamps.clear()
                began, chunks = time.perf_counter(), busy.chunks
                await publisher.publish(kafka.topics.routing, records)
                acked, acked_chunks = time.perf_counter(), busy.chunks
                built, built_chunks = stamps["built"]
                row = figures[mode]
                row["request_chunks"].append(built_chunks - chunks)
                row["ack_chunks"].append(acked_chunks - chunks)
                row["request_ms"].append((built - began) * 1000)
                row["ack_ms"].append((acked - began) * 1000)
    finally:
        produce_request._OnePassSender.send_ready = send_ready  # type: ignore[method-assign]
        await busy.stop()
        await publisher.stop()
        await asyncio.to_thread(delete_run_topics, kafka)
    summary = {}
    for mode, row in figures.items():
        summary[mode] = {
            "request_chunks_mean": round(statistics.fmean(row["request_chunks"]), 2),
            "ack_chunks_mean": round(statistics.fmean(row["ack_chunks"]), 2),
            "request_ms_p50": round(percentile(row["request_ms"], 50), 1),
            "request_ms_p99": round(percentile(row["request_ms"], 99), 1),
            "ack_ms_p50": round(percentile(row["ack_ms"], 50), 1),
            "ack_ms_p99": round(percentile(row["ack_ms"], 99), 1),
        }
    return {
        "rounds": args.rounds,
        "records": args.records,
        "chunk_ms": args.chunk_ms,
        "load_average_1m": round(os.getloadavg()[0], 1),
        "modes": summary,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60, help="rounds per mode")
    parser.add_argument("--records", type=int, default=60, help="records per round")
    parser.add_argument("--chunk-ms", type=float, default=5.0, help="the busy task's chunk")
    return parser.parse_args()


if __name__ == "__main__":
    write_result("relay_ack_turns", asyncio.run(run(parse_args())))

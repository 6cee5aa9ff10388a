"""Webhook → Kafka-acked 2xx: throughput and latency of one service process.

Starts the service (uvicorn, one process) on loopback against a fresh topic,
then drives it from a separate load-generator process (raw asyncio HTTP/1.1 keep-alive
connections, a bounded number of them):

1. throughput: ``--concurrency`` requests in flight for ``--duration`` seconds;
2. fixed rate: ``--rate`` requests/s for ``--duration`` seconds (open loop:
   latency counts from the scheduled send time, so a stall is not hidden).

Only 2xx answers count — the service answers 2xx after the broker acked.
The topic's record count is checked against the 2xx count at the end.
Results: ``bench/results/webhook_load.json`` (phone: ``webhook_load_phone.json``).

    python -m bench.webhook_load [--target chat|phone] [--provider webchat]

A target names the service module and how to build signed requests. ``phone``
loads ``services.phone_log.bench`` which must provide ``service_env(topic)``
and ``build_request(seq, base_url) -> SampleRequest`` (as the chat target does).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from bench.common import bootstrap_servers, latency_summary_ms, write_result


@dataclass(frozen=True)
class Target:
    module: str  # python -m <module>
    port_env: str
    service_env: Callable[[str], dict[str, str]]  # topic → extra environment
    build_request: Callable[[int, str], Any]  # (seq, base_url) → SampleRequest


BENCH_SECRET = "bench-secret-not-for-production"  # noqa: S105
#: After the fixed-rate phase, how long answers still in flight may take.
DRAIN_TIMEOUT_S = 10.0


def chat_target(provider: str | None) -> Target:
    from libs.providers.integrations import Provider
    from services.chat_ingest.samples import sample_request

    kind = Provider(provider or "webchat")

    def service_env(topic: str) -> dict[str, str]:
        integration = {
            "id": "bench",
            "provider": kind.value,
            "secret": BENCH_SECRET,
            "api_key": BENCH_SECRET,
            "verify_token": BENCH_SECRET,
            "routing": {"queue": "bench"},
        }
        return {
            "CHAT_INGEST_INTEGRATIONS": json.dumps([integration]),
            "CHAT_INGEST_HTTP_HOST": "127.0.0.1",
        }

    def build(seq: int, base_url: str) -> Any:
        return sample_request(
            kind, integration_id="bench", secret=BENCH_SECRET, seq=seq, base_url=base_url
        )

    return Target("services.chat_ingest", "CHAT_INGEST_HTTP_PORT", service_env, build)


def phone_target(provider: str | None) -> Target:
    module = importlib.import_module("services.phone_log.bench")
    options = {"provider": provider} if provider else {}
    return Target(
        "services.phone_log",
        "PHONE_LOG_HTTP_PORT",
        module.service_env,
        lambda seq, base_url: module.build_request(seq, base_url, **options),
    )


TARGETS = {"chat": chat_target, "phone": phone_target}


# --- load generator (runs in its own process) ---
#
# A minimal HTTP/1.1 keep-alive client on raw asyncio streams: the pooled httpx
# client measured ~5x slower than the service on this machine (it would have
# benchmarked itself). Requests are serialised to bytes before the clock starts.


def _wire(request: Any) -> bytes:
    headers = {"Host": "127.0.0.1", "Content-Length": str(len(request.content)), **request.headers}
    head = f"{request.method} {request.path} HTTP/1.1\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (head + "\r\n").encode() + request.content


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def exchange(self, wire: bytes) -> int:
        """Send one request, read the whole response, return its status."""
        self.writer.write(wire)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(head[9:12])

    def close(self) -> None:
        self.writer.close()


async def _closed_loop(
    port: int, requests: list[bytes], duration: float, concurrency: int
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    index = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal index
        connection = await Connection.open(port)
        try:
            while time.perf_counter() < deadline and index < len(requests):
                wire = requests[index]
                index += 1
                started = time.perf_counter()
                status = await connection.exchange(wire)
                statuses[status] = statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    latencies.append(time.perf_counter() - started)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return _figures(latencies, statuses, elapsed, sent=index)


async def _open_loop(
    port: int, requests: list[bytes], duration: float, rate: int, connections: int
) -> dict[str, Any]:
    """Send at a fixed rate; latency counts from the scheduled time (no coordinated omission)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(port))
    tasks: list[asyncio.Task[None]] = []
    total = min(len(requests), int(duration * rate))

    async def one(wire: bytes, scheduled: float, connection: Connection) -> None:
        try:
            status = await connection.exchange(wire)
        finally:
            idle.put_nowait(connection)
        statuses[status] = statuses.get(status, 0) + 1
        if 200 <= status < 300:
            latencies.append(time.perf_counter() - scheduled)

    start = time.perf_counter()
    stop_at = start + duration
    issued = 0
    for n in range(total):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        connection = await idle.get()  # all busy: the service is behind; wait for one
        if time.perf_counter() > stop_at:
            idle.put_nowait(connection)
            break
        tasks.append(asyncio.create_task(one(requests[n], scheduled, connection)))
        issued += 1
    pending: set[asyncio.Task[None]] = set()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    while not idle.empty():
        idle.get_nowait().close()
    elapsed = time.perf_counter() - start
    figures = _figures(latencies, statuses, elapsed, sent=issued)
    figures["target_rate"] = rate
    figures["not_sent_because_behind"] = total - issued
    figures["unfinished_after_drain"] = len(pending)
    return figures


def _figures(
    latencies: list[float], statuses: dict[int, int], elapsed: float, sent: int
) -> dict[str, Any]:
    ok = len(latencies)
    return {
        "sent": sent,
        "acked_2xx": ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "elapsed_s": round(elapsed, 3),
        "acked_per_s": round(ok / elapsed, 1) if elapsed else 0.0,
        "latency_2xx": latency_summary_ms(latencies),
    }


async def _generate(args: dict[str, Any], target: Target, port: int) -> dict[str, Any]:
    base_url = f"http://127.0.0.1:{port}"

    def build(first: int, count: int) -> list[bytes]:
        return [_wire(target.build_request(first + n, base_url)) for n in range(count)]

    warm = build(10_000_000, 500)
    await _closed_loop(port, warm, 5, min(args["concurrency"], 16))
    _progress("warm-up done; building requests")
    requests = build(0, int(args["duration"] * 12_000))
    _progress(f"throughput run: {args['duration']} s, {args['concurrency']} in flight")
    throughput = await _closed_loop(port, requests, args["duration"], args["concurrency"])
    fixed = build(20_000_000, int(args["duration"] * args["rate"]))
    _progress(f"fixed-rate run: {args['rate']}/s for {args['duration']} s")
    fixed_rate = await _open_loop(port, fixed, args["duration"], args["rate"], args["connections"])
    return {"throughput": throughput, "fixed_rate": fixed_rate, "warmup_requests": len(warm)}


def _progress(message: str) -> None:
    print(f"[webhook_load] {message}", file=sys.stderr, flush=True)


def _generator_process(args: dict[str, Any], port: int, out: Any) -> None:
    target = TARGETS[args["target"]](args["provider"])
    out.put(asyncio.run(_generate(args, target, port)))


# --- service under test ---


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _create_topic(bootstrap: str) -> str:
    from libs.common.kafka.admin import create_topics
    from libs.common.settings import KafkaSettings, TopicSettings

    suffix = uuid.uuid4().hex[:8]
    topics = TopicSettings(
        interactions=f"bench-{suffix}.interactions",
        routing=f"bench-{suffix}.routing",
        notifications=f"bench-{suffix}.notifications",
        deadletter=f"bench-{suffix}.deadletter",
        partitions=6,
    )
    await create_topics(KafkaSettings(bootstrap_servers=bootstrap, topics=topics))
    return topics.interactions


async def _records_on(bootstrap: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        await consumer.stop()


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service exited with {proc.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("service not ready in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=sorted(TARGETS), default="chat")
    parser.add_argument(
        "--provider", default=None, help="Provider to send (chat: webchat; phone: its default)."
    )
    parser.add_argument("--duration", type=float, default=8.0, help="Seconds per phase (≤ 20).")
    parser.add_argument("--rate", type=int, default=2000, help="Requests/s of the fixed-rate run.")
    parser.add_argument("--concurrency", type=int, default=64, help="In flight, throughput run.")
    parser.add_argument("--connections", type=int, default=64, help="HTTP connection pool size.")
    parser.add_argument("--name", default=None, help="Result file name (default per target).")
    parser.add_argument("--log-level", default="INFO", help="Service log level (INFO is default).")
    args = parser.parse_args()
    args.duration = min(args.duration, 20.0)

    bootstrap = bootstrap_servers()
    topic = asyncio.run(_create_topic(bootstrap))
    target = TARGETS[args.target](args.provider)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        **target.service_env(topic),
        target.port_env: str(port),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC_INTERACTIONS": topic,
        f"{target.port_env.split('_HTTP_PORT')[0]}_LOG_LEVEL": args.log_level,
    }
    service = subprocess.Popen(
        [sys.executable, "-m", target.module], env=env, stderr=subprocess.DEVNULL
    )
    try:
        _wait_healthy(base_url, service)
        context = mp.get_context("spawn")
        out = context.Queue()
        generator = context.Process(target=_generator_process, args=(vars(args), port, out))
        generator.start()
        figures = out.get()
        generator.join()
    finally:
        service.terminate()
        service.wait(timeout=30)
    on_topic = asyncio.run(_records_on(bootstrap, topic))
    acked = figures["throughput"]["acked_2xx"] + figures["fixed_rate"]["acked_2xx"]
    default_name = "webhook_load" if args.target == "chat" else f"webhook_load_{args.target}"
    write_result(
        args.name or default_name,
        {
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "note": "2 vCPUs shared with the Kafka broker, the load generator and other work",
            "target": args.target,
            "provider": args.provider or ("webchat" if args.target == "chat" else "default"),
            "service": f"python -m {target.module} (uvicorn, 1 process)",
            "service_log_level": args.log_level,
            "phase_duration_s": args.duration,
            "concurrency": args.concurrency,
            "connections": args.connections,
            **figures,
            "records_on_topic": on_topic,
            "acked_2xx_total_incl_warmup": acked + figures["warmup_requests"],
            "targets": {"acked_per_s": 5000, "p99_ms_at_2000_per_s": 50},
        },
    )


if __name__ == "__main__":
    main()

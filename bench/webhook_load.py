"""Webhook → Kafka-acked 2xx: throughput and latency per worker count, against the HTTP ceiling.

Starts the service (uvicorn, ``--workers`` processes) on loopback against a
fresh topic, then drives it from a separate load-generator process (raw
asyncio HTTP/1.1 keep-alive connections, a bounded number of them):

1. throughput: ``--concurrency`` requests in flight for ``--duration`` seconds;
2. fixed rate: ``--rate`` requests/s for ``--duration`` seconds (open loop:
   latency counts from the scheduled send time, so a stall is not hidden).
   The Python generator's own garbage collector is paused during this phase
   (``bench.common.bench_gc_paused``; ``--bench-gc`` leaves it on, as before): it
   holds every prepared request, and a full collection stalls its pacer, so the
   requests due meanwhile went out late and their lateness counted as the
   service's latency.

Only 2xx answers count — the service answers 2xx after the broker acked.
The topic's record count is checked against the 2xx count at the end.

In the same run, the same generator drives the HTTP ceiling
(``bench/http_ceiling.py``: a bare ASGI app on the same server, options and
worker count, answering the same POSTs with 202 and no work), so each figure
is also a ratio to what the server alone does on this machine. Every phase
records the CPU the generator and the server used (% of one core), which says
whether the generator or the server was the limit.

Results: ``bench/results/webhook_load.json`` (phone: ``webhook_load_phone.json``).
The top-level figures are those of the first ``--workers`` value; ``by_workers``
has every value measured.

    python -m bench.webhook_load [--target chat|phone] [--provider webchat] [--workers 1,2]

A target names the service module and how to build signed requests (chat:
``services.chat_ingest.samples``; phone: ``bench/phone_payloads.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    bench_gc_paused,
    bootstrap_servers,
    delete_run_topics,
    latency_summary_ms,
    write_result,
)
from tools.testing.system import free_port, run_topics


@dataclass(frozen=True)
class Target:
    module: str  # python -m <module>
    env_prefix: str  # CHAT_INGEST, PHONE_LOG: <prefix>_HTTP_PORT, _WORKERS, _LOG_LEVEL
    service_env: Callable[[str], dict[str, str]]  # topic → extra environment
    build_request: Callable[[int, str], Any]  # (seq, base_url) → SampleRequest


BENCH_SECRET = "bench-secret-not-for-production"  # noqa: S105
#: After the fixed-rate phase, how long answers still in flight may take.
DRAIN_TIMEOUT_S = 10.0
#: Requests built per second of the throughput phase (the most any server here answers).
MAX_RATE = 12_000
#: Requests the ceiling run cycles through.
CEILING_REQUESTS = 5_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
GENERATORS = {
    "python": "python asyncio, raw HTTP/1.1 keep-alive, one process",
    "vegeta": "vegeta (Go) attack, keep-alive, bench/vegeta.py",
}


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

    return Target("services.chat_ingest", "CHAT_INGEST", service_env, build)


def phone_target(provider: str | None) -> Target:
    from bench.phone_payloads import build_request, service_env

    options = {"provider": provider} if provider else {}
    return Target(
        "services.phone_log",
        "PHONE_LOG",
        service_env,
        lambda seq, base_url: build_request(seq, base_url, **options),
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
    port: int, requests: list[bytes], duration: float, concurrency: int, *, repeat: bool = False
) -> dict[str, Any]:
    """``repeat``: cycle through ``requests`` (for the ceiling app, which keeps no state)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    index = 0
    deadline = time.perf_counter() + duration

    async def worker() -> None:
        nonlocal index
        connection = await Connection.open(port)
        try:
            while time.perf_counter() < deadline and (repeat or index < len(requests)):
                wire = requests[index % len(requests)]
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


class CpuMeter:
    """CPU used during one phase, as % of one core: this generator, and the server
    (its process and worker processes, read from /proc; Linux)."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def start(self) -> tuple[float, float, float]:
        return time.perf_counter(), _generator_cpu_s(), _tree_cpu_s(self.server_pid)

    def stop(self, started: tuple[float, float, float], answered: int) -> dict[str, float | None]:
        """``answered``: requests answered in the phase. CPU per request is the figure
        that holds on a shared machine, where a starved process shows a low rate."""
        wall, own, server = started
        elapsed = time.perf_counter() - wall
        generator_s = _generator_cpu_s() - own
        server_s = _tree_cpu_s(self.server_pid) - server
        return {
            "generator_cpu_pct": round(generator_s / elapsed * 100, 1),
            "server_cpu_pct": round(server_s / elapsed * 100, 1),
            "generator_cpu_us_per_request": _per(generator_s, answered),
            "server_cpu_us_per_request": _per(server_s, answered),
            # What one fully available core would answer at that CPU cost: the figure
            # to compare across runs when the machine is shared (load average > cores).
            "server_per_core_per_s": round(answered / server_s) if server_s > 0 else None,
        }


def _generator_cpu_s() -> float:
    """This process and the children it waited for (vegeta, when it generates)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _per(seconds: float, requests: int) -> float | None:
    return round(seconds / requests * 1e6, 1) if requests else None


def _tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children (uvicorn workers)."""
    total = 0.0
    for one in (pid, *_children(pid)):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone, or not Linux
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def _phase(meter: CpuMeter, run: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    started = meter.start()
    figures = await run()
    answered = sum(figures["statuses"].values())
    return {**figures, "cpu": meter.stop(started, answered)}


async def _generate(
    args: dict[str, Any], target: Target, port: int, server_pid: int, *, ceiling: bool
) -> dict[str, Any]:
    """``ceiling``: the bare app, which answers repeats alike, so requests are reused
    (a service must get a new event each time, or it answers "duplicate", cheaper)."""
    base_url = f"http://127.0.0.1:{port}"
    meter = CpuMeter(server_pid)

    def build(first: int, count: int) -> list[Any]:
        return [target.build_request(first + n, base_url) for n in range(count)]

    warm = [_wire(request) for request in build(10_000_000, 500)]
    await _closed_loop(port, warm, 5, min(args["concurrency"], 16))
    _progress("warm-up done; building requests")
    requests = build(0, CEILING_REQUESTS if ceiling else int(args["duration"] * MAX_RATE))
    fixed = build(20_000_000, int(args["duration"] * args["rate"]))
    if args["generator"] == "vegeta":
        throughput, fixed_rate = await _vegeta_phases(args, meter, base_url, requests, fixed)
    else:
        throughput, fixed_rate = await _python_phases(args, meter, port, requests, fixed, ceiling)
    return {"throughput": throughput, "fixed_rate": fixed_rate, "warmup_requests": len(warm)}


async def _python_phases(
    args: dict[str, Any],
    meter: CpuMeter,
    port: int,
    requests: list[Any],
    fixed: list[Any],
    ceiling: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    wires = [_wire(request) for request in requests]
    _progress(f"throughput run: {args['duration']} s, {args['concurrency']} in flight")
    throughput = await _phase(
        meter,
        lambda: _closed_loop(port, wires, args["duration"], args["concurrency"], repeat=ceiling),
    )
    wires = [_wire(request) for request in fixed]
    _progress(f"fixed-rate run: {args['rate']}/s for {args['duration']} s")
    with nullcontext() if args.get("bench_gc") else bench_gc_paused():
        fixed_rate = await _phase(
            meter,
            lambda: _open_loop(port, wires, args["duration"], args["rate"], args["connections"]),
        )
    return throughput, fixed_rate


async def _vegeta_phases(
    args: dict[str, Any], meter: CpuMeter, base_url: str, requests: list[Any], fixed: list[Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    from bench import vegeta

    async def run(batch: list[Any], rate: int, workers: int) -> dict[str, Any]:
        return await asyncio.to_thread(
            vegeta.attack, batch, base_url, duration=args["duration"], rate=rate, workers=workers
        )

    _progress(f"vegeta throughput run: {args['duration']} s, {args['concurrency']} workers")
    throughput = await _phase(meter, lambda: run(requests, 0, args["concurrency"]))
    _progress(f"vegeta fixed-rate run: {args['rate']}/s for {args['duration']} s")
    fixed_rate = await _phase(meter, lambda: run(fixed, args["rate"], args["connections"]))
    return throughput, fixed_rate


def _progress(message: str) -> None:
    print(f"[webhook_load] {message}", file=sys.stderr, flush=True)


def _generator_process(
    args: dict[str, Any], port: int, server_pid: int, ceiling: bool, out: Any
) -> None:
    target = TARGETS[args["target"]](args["provider"])
    out.put(asyncio.run(_generate(args, target, port, server_pid, ceiling=ceiling)))


# --- service under test ---


def _run_kafka(bootstrap: str) -> Any:
    from libs.common.settings import KafkaSettings

    return KafkaSettings(bootstrap_servers=bootstrap, topics=run_topics("bench", partitions=6))


async def _create_topics(kafka: Any) -> None:
    from libs.common.kafka.admin import create_topics

    await create_topics(kafka)


async def _create_topic(bootstrap: str) -> str:
    """A run's topics (``bench.webhook_profile``); their interactions topic."""
    kafka = _run_kafka(bootstrap)
    await _create_topics(kafka)
    return kafka.topics.interactions


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


@dataclass(frozen=True)
class Server:
    """A server process to measure: the service, or the bare HTTP ceiling app."""

    module: str
    env: dict[str, str]
    ceiling: bool = False


def _measure(server: Server, port: int, args: argparse.Namespace) -> dict[str, Any]:
    """Start ``server``, drive it from the generator process, stop it; the figures."""
    service = subprocess.Popen(
        [sys.executable, "-m", server.module],
        env={**os.environ, **server.env},
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", service)
        context = mp.get_context("spawn")
        out = context.Queue()
        generator = context.Process(
            target=_generator_process, args=(vars(args), port, service.pid, server.ceiling, out)
        )
        generator.start()
        figures = out.get()
        generator.join()
    finally:
        service.terminate()
        service.wait(timeout=60)
    return figures


def _service(
    target: Target, topic: str, bootstrap: str, port: int, workers: int, log: str
) -> Server:
    prefix = target.env_prefix
    env = {
        **target.service_env(topic),
        f"{prefix}_HTTP_PORT": str(port),
        f"{prefix}_WORKERS": str(workers),
        f"{prefix}_LOG_LEVEL": log,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC_INTERACTIONS": topic,
    }
    return Server(target.module, env)


def _ceiling(port: int, workers: int) -> Server:
    env = {"BENCH_CEILING_HTTP_PORT": str(port), "BENCH_CEILING_WORKERS": str(workers)}
    return Server("bench.http_ceiling", env, ceiling=True)


def _ratio(service: dict[str, Any], ceiling: dict[str, Any] | None) -> dict[str, Any]:
    if not ceiling:
        return {}
    top = _get_number(ceiling, "throughput", "acked_per_s")
    ours = _get_number(service, "throughput", "acked_per_s")
    return {"throughput_pct_of_http_ceiling": round(ours / top * 100, 1) if top else None}


def _get_number(data: dict[str, Any], *keys: str) -> float:
    for key in keys:
        data = data.get(key, {})
    return float(data) if isinstance(data, int | float) else 0.0


def _run_workers(
    args: argparse.Namespace, target: Target, bootstrap: str, workers: int
) -> dict[str, Any]:
    kafka = _run_kafka(bootstrap)
    topic = kafka.topics.interactions
    asyncio.run(_create_topics(kafka))
    port = free_port()
    _progress(f"{args.target} service, {workers} worker(s)")
    try:
        service = _measure(
            _service(target, topic, bootstrap, port, workers, args.log_level), port, args
        )
        service["records_on_topic"] = asyncio.run(_records_on(bootstrap, topic))
    finally:
        delete_run_topics(kafka)  # the run's own: left behind they fill the broker's disk
    acked = service["throughput"]["acked_2xx"] + service["fixed_rate"]["acked_2xx"]
    service["acked_2xx_total_incl_warmup"] = acked + service["warmup_requests"]
    ceiling = None
    if args.ceiling:
        _progress(f"HTTP ceiling (bare ASGI app), {workers} worker(s)")
        port = free_port()
        ceiling = _measure(_ceiling(port, workers), port, args)
    return {"workers": workers, "service": service, "ceiling": ceiling, **_ratio(service, ceiling)}


def _worker_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("--workers: one or more counts ≥ 1, e.g. 1 or 1,2")
    return counts


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
    parser.add_argument(
        "--workers",
        type=_worker_counts,
        default=[1],
        help="Server worker processes, or a list measured in turn (1,2). Default 1.",
    )
    parser.add_argument(
        "--no-ceiling",
        dest="ceiling",
        action="store_false",
        help="Skip the bare-ASGI HTTP ceiling runs.",
    )
    parser.add_argument(
        "--generator",
        choices=("python", "vegeta"),
        default="python",
        help="Load generator: this script's asyncio client, or vegeta (compiled; "
        "`python -m bench.vegeta install`) to cross-check it.",
    )
    parser.add_argument(
        "--bench-gc",
        action="store_true",
        help="leave the Python generator's garbage collector on during the fixed-rate run "
        "(as before; its pauses then show as latency: bench.common.bench_gc_paused)",
    )
    parser.add_argument("--name", default=None, help="Result file name (default per target).")
    parser.add_argument("--log-level", default="INFO", help="Service log level (INFO is default).")
    args = parser.parse_args()
    args.duration = min(args.duration, 20.0)

    load_at_start = round(os.getloadavg()[0], 2)
    bootstrap = bootstrap_servers()
    target = TARGETS[args.target](args.provider)
    runs = [_run_workers(args, target, bootstrap, workers) for workers in args.workers]
    first = runs[0]
    default_name = "webhook_load" if args.target == "chat" else f"webhook_load_{args.target}"
    workers_text = f"{first['workers']} process" + ("es" if first["workers"] > 1 else "")
    write_result(
        args.name or default_name,
        {
            "load_average_1m_at_start": load_at_start,
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "note": "2 vCPUs shared with the Kafka broker, the load generator and other work",
            "target": args.target,
            "provider": args.provider or ("webchat" if args.target == "chat" else "default"),
            "service": f"python -m {target.module} (uvicorn, {workers_text})",
            "service_log_level": args.log_level,
            "phase_duration_s": args.duration,
            "concurrency": args.concurrency,
            "connections": args.connections,
            "generator": GENERATORS[args.generator],
            "workers": first["workers"],
            **first["service"],
            "http_ceiling": first["ceiling"],
            **{k: v for k, v in first.items() if k.endswith("_of_http_ceiling")},
            "by_workers": {str(run["workers"]): run for run in runs},
            "targets": {"acked_per_s": 5000, "p99_ms_at_2000_per_s": 50},
        },
    )


if __name__ == "__main__":
    main()

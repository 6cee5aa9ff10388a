"""Webhook service CPU per request at fixed rates, and its idle CPU: for A/B comparisons.

``bench/webhook_load.py`` measures throughput and latency; this measures only the
figure that holds on a shared, slower machine — the service's CPU-seconds per
1,000 requests at a fixed rate (open loop, keep-alive connections, like the
pipeline's load generator) — plus what the service burns with no requests at all
(ms of CPU per s). One service process per run (``python -m <service>`` from the
current directory), rates measured in turn; run it alternately from two source
trees to compare them (A, B, A, B, …).

    python -m bench.webhook_rate_cpu [--target chat|phone] [--rates 100,500] [--seconds 8]
        [--idle 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from bench.common import bootstrap_servers, delete_run_topics
from bench.webhook_load import (
    BENCH_SECRET,
    TARGETS,
    _create_topics,
    _open_loop,
    _run_kafka,
    _service,
    _tree_cpu_s,
    _wait_healthy,
    _wire,
)
from tools.testing.system import free_port

#: Requests sent before measuring (imports, caches, the topic's metadata).
WARM_UP = 300


async def _drive(target: Any, port: int, rate: int, seconds: float, first: int, conns: int) -> Any:
    base_url = f"http://127.0.0.1:{port}"
    wires = [_wire(target.build_request(first + n, base_url)) for n in range(int(rate * seconds))]
    return await _open_loop(port, wires, seconds, rate, conns)


@contextlib.contextmanager
def one_worker_service(
    target: Any,
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``target``'s webhook service with one worker on a run's own topics, started as
    ``[*command, <its module>]`` (under valgrind, a profiler, or plain) and healthy: its
    process and port. Stopped and its topics deleted on exit (``timeout`` bounds both the
    start and the stop: valgrind is slow at each)."""
    bootstrap = bootstrap_servers()
    kafka = _run_kafka(bootstrap)
    asyncio.run(_create_topics(kafka))
    port = free_port()
    server = _service(target, kafka.topics.interactions, bootstrap, port, 1, "WARNING")
    proc = subprocess.Popen(
        [*command, server.module],
        env={**os.environ, **server.env, **(env or {})},
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=timeout)
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(timeout=timeout)
        delete_run_topics(kafka)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=sorted(TARGETS), default="chat")
    parser.add_argument("--provider", default=None)
    parser.add_argument("--rates", default="100,500")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--idle", type=float, default=5.0, help="Seconds measured idle.")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    assert BENCH_SECRET  # the targets sign with it
    target = TARGETS[args.target](args.provider)
    result: dict[str, Any] = {"load_1m_at_start": round(os.getloadavg()[0], 2), "rates": {}}
    with one_worker_service(target, [sys.executable, "-m"]) as (proc, port):
        asyncio.run(_drive(target, port, 100, WARM_UP / 100, 90_000_000, args.connections))
        time.sleep(1.0)
        cpu = _tree_cpu_s(proc.pid)
        time.sleep(args.idle)
        result["idle_cpu_ms_per_s"] = round((_tree_cpu_s(proc.pid) - cpu) / args.idle * 1e3, 2)
        for i, rate in enumerate(int(r) for r in args.rates.split(",")):
            cpu = _tree_cpu_s(proc.pid)
            figures = asyncio.run(
                _drive(target, port, rate, args.seconds, i * 10_000_000, args.connections)
            )
            used = _tree_cpu_s(proc.pid) - cpu
            answered = sum(figures["statuses"].values())
            result["rates"][str(rate)] = {
                "answered": answered,
                "statuses": figures["statuses"],
                "cpu_s_per_1000": round(used / answered * 1e3, 3) if answered else None,
                "p99_ms": figures["latency_2xx"].get("p99_ms"),
            }
    result["load_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

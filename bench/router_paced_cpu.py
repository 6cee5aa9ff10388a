"""The router's CPU per 1,000 interactions at fixed, paced rates: what depends on the rate.

The router runs as its own process (``python -m services.router``, SQLite, fresh topics
and database) on the broker of ``KAFKA_BOOTSTRAP_SERVERS``; after a warm-up, each rate
publishes interactions on the schedule for ``--seconds`` and the window closes a fixed
``--tail`` later (every run's window holds the same idle time: the relay's last rounds,
its marks, the scheduler's ticks). Per rate: the router's CPU-seconds per 1,000
interactions in total and per thread (``/proc/<pid>/task/*/stat``: the main thread,
aiosqlite's, aiokafka's and executor threads), context switches per interaction by
thread, and from the router's ``/metrics`` the polls that handled a batch and the events
the relay published. Run it alternately from two source trees to compare them (A, B, A,
B, …): the machine's load drifts.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19122 python -m bench.router_paced_cpu \
        [--rates 100,500] [--seconds 12] [--tail 2] [--out file.json]

Measured on the shared 2-core VM (load 1.5-4), 82bc697 against the relay's kept reader
and the LIFO pool, interleaved: at 25/s (~16 polls a second of 1.4 interactions)
7.87 / 7.80 against 7.53 / 6.83 CPU-s per 1,000; at 100/s (~15 polls of ~6) 2.86 / 2.98 /
2.49 against 2.78 / 2.37 / 2.01. At 25/s the router spends ~10 ms of its main thread's
CPU a poll of 1-2 interactions, ~2x what callgrind's instructions for such a poll take in
a warm loop. At 500/s on this machine under load 4-8 the router fell behind (polls of
100-260): that is the backlog's shape, not the pipeline's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import bootstrap_servers, run_topic_names
from bench.cpu_accounting import TICKS_PER_S, thread_stats
from bench.router_throughput import (
    RELAY_INTERVAL_S,
    RoutedWatcher,
    kafka_settings,
    publish_at_rate,
    router_env,
)
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.kafka.producer import EventProducer

#: interactions before measuring (imports, caches, the topics' metadata, the first polls)
WARM_UP = 400


def thread_figures(pid: int) -> dict[str, dict[str, int]]:
    """Thread name → summed ticks (utime + stime) and context switches of its threads;
    threads of the same name (executor workers) together."""
    out: dict[str, dict[str, int]] = {}
    for tid, thread in thread_stats(pid).items():
        name = thread.name
        if name.isdigit() or name.startswith("python"):
            name = "main" if tid == pid else name
        entry = out.setdefault(name, {"ticks": 0, "voluntary": 0, "involuntary": 0})
        entry["ticks"] += thread.ticks
        entry["voluntary"] += thread.voluntary
        entry["involuntary"] += thread.involuntary
    return out


def scrape(port: int) -> dict[str, float]:
    """The router's batches handled (polls with records) and events published."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    polls = published = 0.0
    for line in text.splitlines():
        if line.startswith('omnidesk_handle_seconds_count{stage="router.route"}'):
            polls += float(line.split()[-1])
        elif line.startswith("omnidesk_events_published_total{"):
            published += float(line.split()[-1])
    return {"polls": polls, "published": published}


def difference(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], messages: int
) -> dict[str, Any]:
    per_k = 1000 / max(messages, 1)
    threads = {}
    for name, end in after.items():
        start = before.get(name, {"ticks": 0, "voluntary": 0, "involuntary": 0})
        cpu_s = (end["ticks"] - start["ticks"]) / TICKS_PER_S
        threads[name] = {
            "cpu_s_per_1000": round(cpu_s * per_k, 3),
            "switches_per_msg": round(
                (end["voluntary"] + end["involuntary"] - start["voluntary"] - start["involuntary"])
                / max(messages, 1),
                2,
            ),
        }
    total = sum(t["cpu_s_per_1000"] for t in threads.values())
    return {"cpu_s_per_1000": round(total, 3), "threads": threads}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    kafka = kafka_settings(bootstrap_servers())
    await create_topics(kafka)
    state = Path(tempfile.mkdtemp(prefix="rperf-router-"))
    env = router_env(
        kafka,
        f"sqlite+aiosqlite:///{state}/router.db",
        str(state),
        relay_interval_s=args.relay_interval,
    )
    http_port = int(env["ROUTER_HTTP_PORT"])
    watcher = RoutedWatcher(kafka)
    results: list[dict[str, Any]] = []
    async with EventProducer(kafka, client_id="bench") as producer:
        router = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.router", env=env
        )
        await watcher.start()
        try:
            sent = await publish_at_rate(producer, kafka, rate=200, seconds=WARM_UP / 200, start=0)
            await watcher.until(len(sent), timeout_s=90)
            start = len(sent)
            for rate in args.rates:
                await watcher.until_quiet(1.0, timeout_s=30)
                await asyncio.sleep(1.5)  # the warm-up's last marks
                load = os.getloadavg()[0]
                counts, threads, began = (
                    scrape(http_port),
                    thread_figures(router.pid),
                    time.monotonic(),
                )
                sent = await publish_at_rate(
                    producer, kafka, rate=rate, seconds=args.seconds, start=start
                )
                start += len(sent)
                await watcher.until(start, timeout_s=60)
                routed_at = time.monotonic() - began
                await asyncio.sleep(max(0.0, began + args.seconds + args.tail - time.monotonic()))
                window = time.monotonic() - began
                threads_after, counts_after = thread_figures(router.pid), scrape(http_port)
                messages = len(sent)
                figures = difference(threads, threads_after, messages)
                polls = counts_after["polls"] - counts["polls"]
                results.append(
                    {
                        "rate": rate,
                        "interactions": messages,
                        "window_s": round(window, 2),
                        "all_routed_after_s": round(routed_at, 2),
                        "load_average_1m": load,
                        **figures,
                        "polls_per_s": round(polls / window, 1),
                        "interactions_per_poll": round(messages / max(polls, 1), 1),
                        "published_per_interaction": round(
                            (counts_after["published"] - counts["published"]) / messages, 2
                        ),
                    }
                )
                print(json.dumps(results[-1]), flush=True)
        finally:
            router.send_signal(signal.SIGTERM)
            await router.wait()
            await watcher.stop()
            await delete_topics(kafka, run_topic_names(kafka.topics))
    return {"source": str(Path.cwd()), "phases": results}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates", type=lambda s: [int(r) for r in s.split(",")], default=[100, 500]
    )
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--tail", type=float, default=2.0)
    parser.add_argument("--relay-interval", type=float, default=RELAY_INTERVAL_S)
    parser.add_argument("--out", type=Path)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    result = asyncio.run(run(args))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

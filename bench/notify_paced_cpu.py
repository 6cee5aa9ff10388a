"""The notifier's CPU per 1,000 POSTs at a paced rate, as ``bench.pipeline`` runs it.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19132 python -m bench.notify_paced_cpu \\
        [--rates 100,500] [--seconds 12] [--warm 3] [--tree PATH]

For each rate: the notifier started as a process (``python -m services.notifier``, the
pipeline's environment: the web-chat integration ``pbench``, WARNING logs, its own
consumer group and topics), mails into the bench's SMTP sink in a process of its own,
and routing events of ``bench.notify_instructions.pipeline_events`` (three a POST: the
routed event, the opening with the visitor's web-chat acknowledgement, the assignment
with the agent's mail) produced to its routing topic every ``--tick-ms`` (40 ms: about
the router relay's cadence at the pipeline's rate), encoded as the relay encodes them.
After ``--warm`` seconds the notifier's counters are read for ``--seconds`` seconds:
CPU (utime + stime of each thread, ``/proc/PID/task/*/stat``), context switches
(``/proc/PID/task/*/status``), page faults (minor and major, ``/proc/PID/stat``: a
block mapped for a fetch and unmapped after it faults in each page), polls handled (the
consumer's ``handle_seconds`` count on the probe port's ``/metrics``), and POSTs fed;
the RSS at the end; then the feed stops and the run waits until the sink has every mail.
Each rate gets a new notifier home (sent-log) and new topics. ``--env NAME=VALUE`` adds
to the notifier's environment; ``--tree PATH`` runs the notifier from another checkout
(base/change A/B on one broker, with this venv's interpreter). JSON to
``bench/results/notify_paced_cpu.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import bootstrap_servers, run_topic_names, write_result
from bench.cpu_accounting import (
    TICKS_PER_S,
    broker_pid,
    parse_stat,
    process_faults,
    status_mb,
    thread_stats,
)
from bench.notify_instructions import WEBCHAT, pipeline_events, relayed
from bench.smtp_sink import SmtpSink
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.kafka.producer import EventProducer, OutgoingRecord
from libs.common.settings import KafkaSettings
from tools.testing.system import LocalSystem, free_port, run_topics

EVENTS_PER_POST = 3
POLLS = re.compile(
    rb'^omnidesk_handle_seconds_count\{stage="notifier\.handle"\} ([0-9.e+]+)$', re.M
)
#: records the routing consumer took, handled or skipped undecoded (``interaction.routed``)
CONSUMED = re.compile(
    rb'^omnidesk_events_consumed_total\{outcome="\w+",stage="notifier\.handle"\} ([0-9.e+]+)$', re.M
)


def process_ticks(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        stat = parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return 0
    return stat.own_ticks


def consumer_counts(port: int) -> tuple[float, float]:
    """(polls handled, records consumed) so far, from the probe port's ``/metrics``."""
    return parse_counts(
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    )


def parse_counts(body: bytes) -> tuple[float, float]:
    found = POLLS.search(body)
    return (
        float(found.group(1)) if found else 0.0,
        sum(float(m.group(1)) for m in CONSUMED.finditer(body)),
    )


def routing_records(run: str, posts: int) -> list[list[OutgoingRecord]]:
    """Each POST's three records, as the router's relay encodes them."""
    out: list[list[OutgoingRecord]] = []
    for n, event in enumerate(pipeline_events(posts * EVENTS_PER_POST)):
        headers, value = relayed(event, f"{run}-{n}")
        if n % EVENTS_PER_POST == 0:
            out.append([])
        out[-1].append(OutgoingRecord(value, event.conversation.conversation_id, headers))
    return out


class Feed:
    """``posts`` at ``rate`` a second, a tick's worth produced together; ``sent``: so far."""

    def __init__(self, posts: list[list[OutgoingRecord]], rate: int, tick_s: float) -> None:
        self.posts = posts
        self.rate = rate
        self.tick_s = tick_s
        self.sent = 0

    async def run(self, producer: EventProducer, topic: str) -> None:
        started = time.monotonic()
        while self.sent < len(self.posts):
            due = min(len(self.posts), int((time.monotonic() - started) * self.rate) + 1)
            if due > self.sent:
                batch = [r for post in self.posts[self.sent : due] for r in post]
                await producer.send_many(topic, batch)
                self.sent = due
            await asyncio.sleep(self.tick_s)


def snapshot(pid: int, probe_port: int, sink_pid: int, kafka_pid: int | None) -> dict[str, Any]:
    return {
        "t": time.monotonic(),
        # tid → (name, ticks, context switches)
        "threads": {
            tid: (t.name, t.ticks, t.voluntary + t.involuntary)
            for tid, t in thread_stats(pid).items()
        },
        "counts": consumer_counts(probe_port),
        "faults": process_faults(pid),
        "sink": process_ticks(sink_pid),
        "broker": process_ticks(kafka_pid),
    }


def difference(before: dict[str, Any], after: dict[str, Any], fed: int) -> dict[str, Any]:
    """Per 1,000 POSTs the notifier handled in the window (not those fed: a notifier that
    falls behind handles fewer, in larger polls)."""
    polls = after["counts"][0] - before["counts"][0]
    posts = (after["counts"][1] - before["counts"][1]) / EVENTS_PER_POST
    per_k = 1000 / posts
    by_name: dict[str, list[int]] = {}
    for tid, (name, ticks, switches) in after["threads"].items():
        _, ticks0, switches0 = before["threads"].get(tid, (name, 0, 0))
        entry = by_name.setdefault(name, [0, 0])
        entry[0] += ticks - ticks0
        entry[1] += switches - switches0
    ticks = sum(t for t, _ in by_name.values())
    switches = sum(s for _, s in by_name.values())
    seconds = after["t"] - before["t"]
    return {
        "seconds": round(seconds, 2),
        "posts_fed": fed,
        "posts_handled": round(posts),
        "notifier_cpu_s_per_1000": round(ticks / TICKS_PER_S * per_k, 3),
        "threads_cpu_s_per_1000": {
            name: round(t / TICKS_PER_S * per_k, 3) for name, (t, _) in sorted(by_name.items())
        },
        "page_faults_per_post": round((after["faults"] - before["faults"]) / posts, 2),
        "context_switches_per_post": round(switches / posts, 2),
        "context_switches_per_s": round(switches / seconds),
        "threads_switches_per_s": {
            name: round(s / seconds) for name, (_, s) in sorted(by_name.items())
        },
        "polls_per_s": round(polls / seconds, 1),
        "posts_per_poll": round(posts / polls, 1) if polls else None,
        "sink_cpu_s_per_1000": round((after["sink"] - before["sink"]) / TICKS_PER_S * per_k, 3),
        "broker_cpu_s_per_1000": round(
            (after["broker"] - before["broker"]) / TICKS_PER_S * per_k, 3
        ),
    }


def notifier_system(
    args: argparse.Namespace, home: Path, kafka: KafkaSettings, group: str, smtp_port: int
) -> LocalSystem:
    integration = {"id": WEBCHAT, "provider": "webchat", "secret": "s" * 32}
    return LocalSystem(
        home=home,
        kafka=kafka,
        smtp_port=smtp_port,
        extra_env={
            "notifier": {
                "NOTIFIER_LOG_LEVEL": "WARNING",
                "NOTIFIER_GROUP_ID": f"{group}.notifier",
                "NOTIFIER_INTEGRATIONS": json.dumps([integration]),
                "NOTIFIER_WEBCHAT_PORT": str(free_port()),
                **dict(item.split("=", 1) for item in args.env),
            }
        },
    )


def start_notifier(
    args: argparse.Namespace, home: Path, kafka: KafkaSettings, group: str, smtp_port: int
) -> LocalSystem:
    """The notifier started and ready; on a busy machine another process may take one of
    its free ports before it binds, so up to three tries, each with new ports."""
    for attempt in range(3):
        system = notifier_system(args, home, kafka, group, smtp_port)
        try:
            system.start("notifier", timeout=120)
            return system
        except Exception:
            system.stop_all()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def one_rate(args: argparse.Namespace, rate: int, sink: SmtpSink) -> dict[str, Any]:
    bootstrap = bootstrap_servers()
    topics = run_topics("np")
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topics=topics)
    await create_topics(kafka)
    home = Path(tempfile.mkdtemp(prefix="nperf-paced-"))
    group = topics.interactions.removesuffix(".interactions")
    total = rate * (args.warm + args.seconds)
    posts = routing_records(group, total)
    producer = EventProducer(kafka, client_id="bench-paced-feed")
    await producer.start()
    received0 = sink.count()
    feeding: asyncio.Task[None] | None = None
    system: LocalSystem | None = None
    cwd = os.getcwd()
    try:
        if args.tree:
            os.chdir(args.tree)  # LocalSystem spawns `python -m services.notifier` in cwd
        # wait_ready runs a loop of its own: in a thread
        system = await asyncio.to_thread(start_notifier, args, home, kafka, group, sink.port)
        os.chdir(cwd)
        service = system.services["notifier"]
        assert service.proc is not None
        pid = service.proc.pid
        kafka_pid = broker_pid(bootstrap)
        feed = Feed(posts, rate, args.tick_ms / 1000)
        feeding = asyncio.create_task(feed.run(producer, topics.routing))
        await asyncio.sleep(args.warm)
        before = snapshot(pid, service.port, sink.pid, kafka_pid)
        fed0 = feed.sent
        await asyncio.sleep(args.seconds)
        after = snapshot(pid, service.port, sink.pid, kafka_pid)
        memory = status_mb(pid, "VmRSS", "VmHWM") or {}
        fed = feed.sent - fed0
        await feeding
        for _ in range(300):  # the backlog left, at most 60 s
            if sink.count() - received0 >= total:
                break
            await asyncio.sleep(0.2)
        result = {"rate": rate, **difference(before, after, fed)}
        result["rss_mb"] = memory.get("VmRSS")
        result["peak_rss_mb"] = memory.get("VmHWM")
        result["mails_received"] = sink.count() - received0
        result["mails_expected"] = total
        return result
    finally:
        os.chdir(cwd)
        if feeding is not None:
            feeding.cancel()
        if system is not None:
            system.stop_all()
        await producer.stop()
        await delete_topics(kafka, run_topic_names(topics))
        shutil.rmtree(home, ignore_errors=True)


def load() -> float:
    return os.getloadavg()[0]


async def main(args: argparse.Namespace) -> None:
    runs = []
    with SmtpSink(keep=False) as sink:
        for rate in (int(r) for r in args.rates.split(",")):
            started_load = load()
            result = await one_rate(args, rate, sink)
            result |= {"load_start": round(started_load, 2), "load_end": round(load(), 2)}
            result["tree"] = args.tree or os.getcwd()
            result["env"] = args.env
            print(json.dumps(result), flush=True)
            runs.append(result)
    write_result("notify_paced_cpu", {"argv": sys.argv[1:], "runs": runs})


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="100,500")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--warm", type=float, default=3.0)
    parser.add_argument("--tick-ms", type=float, default=40.0)
    parser.add_argument("--tree", default="", help="run the notifier from this checkout")
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the notifier (repeatable)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

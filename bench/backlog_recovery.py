"""Backlog recovery: interactions queued while the router was down, routed and notified.

The system runs as processes (``LocalSystem``, the same helpers as
``bench.pipeline``); an SMTP server in a process of its own (``bench.smtp_sink``:
compiled when built, else aiosmtpd; ``--smtp-sink``) counts the mails.

1. The router and the notifier start once (database migrated, six agents
   online from the roster; their idle RSS is the baseline) and are stopped —
   an existing desk whose router went down.
2. With the router and the notifier stopped, ``--count`` interactions are
   produced to the interactions topic by a fast producer (every send in flight
   at once, chunked): a realistic mix of e-mail and web chat, many contacts,
   threads, repeat customers (a follow-up in their thread or a new thread).
3. The router and the notifier are started; the clock runs from the router's
   start. Done when every interaction's ``InteractionRouted`` is on the
   routing topic and the notifier has committed every routing event (its
   consumer group's lag is 0), i.e. every resulting notice was sent — the
   SMTP sink's count is reported beside it. Recovery time = the later of the
   last routed event and the last mail received, minus the router's start.

Two phases are reported apart: router start → all routed (``routed_after_s``,
decisions/s) and router start → all notices sent (``notified_after_s``,
notices/s), with the CPU-seconds of each process in each phase
(``bench.cpu_accounting``: router, notifier, Kafka broker, SMTP sink, this
process; ``other`` is the rest of the machine). Every second a sample of the
routed count, the mails received and the RSS of the router and the notifier
goes into ``series``; peak RSS (VmHWM) of both at the end.

``--profile DIR`` adds a second, smaller pass (``--profile-count``) with the
router and the notifier under pyinstrument: ``DIR/backlog-<service>.pstats``.

``--py-spy DIR`` samples the router and the notifier of the measured pass from
outside (py-spy; its own CPU is its process's, not theirs, but each sample stops
the process for a moment: ``--native`` cannot read the stack otherwise, and the
native frames show the garbage collector) from their start until the backlog is
notified: ``DIR/<service>.txt`` in py-spy's raw (collapsed) format, running
threads only. ``python -m bench.task_profile DIR/router.txt`` splits it by
asyncio task and by library.

    python -m bench.backlog_recovery [--count 100000] [--budget 300] [--profile DIR]
        [--py-spy DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.common import bootstrap_servers, delete_run_topics, write_result
from bench.cpu_accounting import CpuMeter, CpuSample, broker_pid, cpu_split, rss_mb
from bench.pipeline import build_system, keep_logs, memory, start_profiled, stop
from bench.smtp_sink import KINDS, SmtpSink
from bench.topic_reader import BackgroundTopicReader
from libs.common.cloudevents import CloudEvent
from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from libs.common.events.routing import InteractionRouted
from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings
from tools.testing.system import LocalSystem

TARGET_S = 60.0
#: py-spy's samples per second (``--py-spy``): enough for shares of a few %, little overhead.
PY_SPY_RATE = 200
#: The profiled pass only has to show where the time goes, not to finish.
PROFILE_BUDGET_S = 120.0
NOTIFIER_GROUP = "bench-backlog-notifier"
ROUTED = InteractionRouted.ce_type.encode()


# --- the backlog (pure) ---------------------------------------------------------------


@dataclass(frozen=True)
class Mix:
    """Who writes interaction ``n`` and how: first contacts, then repeat customers.

    The first ``new_share`` of the interactions come from distinct customers;
    after that customers write again, every other one as a follow-up in their
    previous thread, the others opening a new thread. Half are e-mail, half web chat.
    """

    count: int
    new_share: float = 0.6

    @property
    def customers(self) -> int:
        return max(1, int(self.count * self.new_share))

    def customer(self, n: int) -> int:
        return n % self.customers

    def follow_up(self, n: int) -> bool:
        return n >= self.customers and (n // self.customers + n) % 2 == 0

    def email(self, n: int) -> bool:
        return self.customer(n) % 2 == 0


def backlog_interaction(mix: Mix, run: str, n: int, now: datetime) -> Interaction:
    customer = mix.customer(n)
    previous = n - mix.customers
    if mix.email(n):
        address = f"c{customer}.{run}@customer.example"
        return Interaction(
            channel=Channel.EMAIL,
            provider="imap",
            integration="support",
            occurred_at=now,
            received_at=now,
            customer=CustomerIdentity(email=address, display_name=f"Customer {customer}"),
            subject="입금이 반영되지 않았어요" if n % 3 else "Withdrawal pending",
            body=MessageBody(text=f"Hello, my deposit {n} has not arrived yet. 확인 부탁드립니다."),
            thread=ThreadHints(
                message_id=f"m{n}.{run}@customer.example",
                in_reply_to=[f"m{previous}.{run}@customer.example"] if mix.follow_up(n) else [],
            ),
        )
    thread = f"t{customer}" if mix.follow_up(n) or n < mix.customers else f"t{customer}-{n}"
    return Interaction(
        channel=Channel.CHAT,
        provider="webchat",
        integration="pbench",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(
            handle=f"webchat:v{customer}-{run}", display_name=f"Visitor {customer}", locale="ko-KR"
        ),
        body=MessageBody(text=f"로그인이 안 돼요 (#{n})"),
        thread=ThreadHints(provider_thread_id=f"{run}-{thread}"),
    )


def backlog_events(mix: Mix, run: str) -> Iterator[tuple[CloudEvent, str]]:
    now = datetime.now(UTC)
    for n in range(mix.count):
        body = backlog_interaction(mix, run, n, now)
        event = CloudEvent(id=f"bl-{run}-{n}", source="bench", type=body.event_type(), data=body)
        yield event, body.customer_key


async def produce_backlog(kafka: KafkaSettings, mix: Mix, run: str, chunk: int = 5000) -> float:
    """Every event of a chunk in flight at once; returns events/s acknowledged."""
    events = list(backlog_events(mix, run))  # built before the clock starts
    async with EventProducer(kafka, client_id="bench-backlog") as producer:
        started = time.perf_counter()
        for offset in range(0, len(events), chunk):
            await asyncio.gather(
                *(
                    producer.publish(kafka.topics.interactions, event, key=key)
                    for event, key in events[offset : offset + chunk]
                )
            )
        return len(events) / (time.perf_counter() - started)


# --- observing ---------------------------------------------------------------------------


class RoutingWatcher:
    """Reads the routing topic from the start; counts distinct InteractionRouted by
    ``ce_id`` header (no decoding: the bench must not compete for the CPU)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.routed: set[bytes] = set()
        self.events = 0
        self.last_routed_at = 0.0
        self._reader = BackgroundTopicReader(
            kafka,
            kafka.topics.routing,
            self._take,
            timeout_ms=200,
            max_records=5000,
            clock=time.time,
        )

    @property
    def consumer(self) -> AIOKafkaConsumer | None:
        return self._reader.consumer

    async def start(self) -> None:
        await self._reader.start()

    async def stop(self) -> None:
        await self._reader.stop()

    def _take(self, batch, now: float) -> None:  # type: ignore[no-untyped-def]
        for records in batch.values():
            for record in records:
                self.events += 1
                headers = dict(record.headers or ())
                if headers.get("ce_type") == ROUTED:
                    before = len(self.routed)
                    self.routed.add(headers.get("ce_id", b""))
                    if len(self.routed) > before:
                        self.last_routed_at = now

    async def end_offsets(self) -> dict[TopicPartition, int]:
        assert self.consumer is not None
        partitions = self.consumer.assignment()
        return dict(await self.consumer.end_offsets(list(partitions))) if partitions else {}


async def notifier_lag(
    admin: AIOKafkaAdminClient, watcher: RoutingWatcher, group: str
) -> tuple[int | None, int]:
    """Routing events the notifier has not committed yet (None before its first commit),
    and the routing topic's size they were counted against."""
    committed = await admin.list_consumer_group_offsets(group)
    ends = await watcher.end_offsets()
    size = sum(ends.values())
    if not committed or not ends:
        return None, size
    lag = sum(end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items())
    return lag, size


def recovery_seconds(router_started: float, last_routed: float, last_mail: float) -> float:
    """From the router's start to the later of the last routing decision and the last mail."""
    return round(max(last_routed, last_mail) - router_started, 2)


def phase_rates(
    count: int, mails: int, routed_after_s: float | None, notified_after_s: float | None
) -> dict[str, float | None]:
    """Decisions/s until all were routed and notices/s until all were sent, both from the
    router's start (the notifier starts with it and works while the router routes)."""
    return {
        "routed_per_s": round(count / routed_after_s, 1) if routed_after_s else None,
        "notices_per_s": round(mails / notified_after_s, 1) if notified_after_s else None,
    }


# --- the run -------------------------------------------------------------------------------


def prepared_system(
    home: Path, smtp_port: int, bootstrap: str
) -> tuple[LocalSystem, dict[str, float]]:
    """The system with its database migrated and the roster seeded (agents online), stopped;
    and the RSS of the router and the notifier started and idle (MB) — their baseline."""
    system = build_system(home, smtp_port, bootstrap)
    system.services["notifier"].env["NOTIFIER_GROUP_ID"] = NOTIFIER_GROUP
    idle = {}
    try:
        for name in ("router", "notifier"):
            system.start(name, timeout=120)
        time.sleep(2)  # past the start-up work (consumer join, first polls)
        for name in ("router", "notifier"):
            proc = system.services[name].proc
            assert proc is not None
            idle[name] = memory(proc.pid)["rss_mb"]
    finally:
        stop(system)
    return system, idle


@dataclass
class Phases:
    """CPU samples at the router's start, at its first decision (start-up done: imports,
    migrations, consumer join), when all were routed, and at the end."""

    meter: CpuMeter
    start: CpuSample
    first: CpuSample | None = None
    routed: CpuSample | None = None
    end: CpuSample | None = None

    def split(self, count: int, mails: int) -> dict[str, Any]:
        cpus = os.cpu_count() or 1
        out: dict[str, Any] = {}
        if self.first is not None:
            out["start_up"] = cpu_split(self.start, self.first, messages=0, cpus=cpus)
        if self.first is not None and self.end is not None:
            # the work itself, start-up excluded: per 1,000 interactions of the backlog
            out["after_start_up"] = cpu_split(self.first, self.end, messages=count, cpus=cpus)
        if self.routed is not None:
            out["until_all_routed"] = cpu_split(self.start, self.routed, messages=count, cpus=cpus)
        if self.end is not None:
            out["until_all_notified"] = cpu_split(self.start, self.end, messages=count, cpus=cpus)
            out["until_all_notified"]["mails"] = mails
        return out


async def observe(
    system: LocalSystem,
    sink: SmtpSink,
    bootstrap: str,
    count: int,
    budget: float,
    profile: Path | None,
    spy: Path | None = None,
) -> dict[str, Any]:
    watcher = RoutingWatcher(system.kafka)
    admin = AIOKafkaAdminClient(**system.kafka.client_options())
    await admin.start()
    await watcher.start()
    mails_before = sink.count()  # the SMTP sink outlives a pass
    try:
        router_started = time.time()
        for name in ("router", "notifier"):
            if profile is None:
                system.start(name, wait=False)
            else:
                start_profiled(system, name, profile / f"backlog-{name}.pstats")
        pids = {name: system.services[name].proc.pid for name in ("router", "notifier")}  # type: ignore[union-attr]
        spies = (
            [sample_with_py_spy(pid, spy / f"{name}.txt") for name, pid in pids.items()]
            if spy
            else []
        )
        meter = CpuMeter(
            {**pids, "kafka broker": broker_pid(bootstrap), "smtp sink": sink.pid},
            alone={"bench": os.getpid()},
        )
        phases = Phases(meter, meter.sample())
        series: list[dict[str, Any]] = []
        deadline = time.monotonic() + budget
        lag: int | None = None
        exited: list[str] = []
        sizes: list[int] = []
        next_sample = 0.0
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            if time.monotonic() >= next_sample:
                next_sample = time.monotonic() + 1.0
                series.append(sample(router_started, watcher, sink, mails_before, pids))
            exited = [name for name in pids if not system.services[name].running()]
            if exited:
                break  # the service's log says why (kept under bench/results/logs)
            if phases.first is None and watcher.routed:
                phases.first = meter.sample()
            if len(watcher.routed) < count:
                continue
            if phases.routed is None:
                phases.routed = meter.sample()
            lag, size = await notifier_lag(admin, watcher, NOTIFIER_GROUP)
            sizes.append(size)
            # Done when the notifier has committed everything and the router has added
            # nothing since the previous look (events published after the last
            # InteractionRouted of a batch). The figure comes from arrival times, so
            # this extra look does not lengthen it.
            if lag == 0 and sizes[-2:-1] == [size]:
                phases.end = meter.sample()
                break
        series.append(sample(router_started, watcher, sink, mails_before, pids))
        stop_py_spy(spies)
        mails, last_mail_at = sink.counted()
        mails -= mails_before
        done = len(watcher.routed) >= count and lag == 0 and not exited
        routed_after = round(watcher.last_routed_at - router_started, 2) if watcher.routed else None
        notified_after = round(last_mail_at - router_started, 2) if mails else None
        figures = {
            "interactions": count,
            "routed": len(watcher.routed),
            "routing_events": watcher.events,
            "mails_received": mails,
            "notifier_lag_at_end": lag,
            "recovered": done,
            "budget_s": budget,
            "routed_after_s": routed_after,
            "notified_after_s": notified_after,
            **phase_rates(count, mails, routed_after, notified_after),
            "recovery_s": recovery_seconds(router_started, watcher.last_routed_at, last_mail_at)
            if done
            else None,
            "memory": {name: memory(pid) for name, pid in pids.items() if name not in exited},
            "cpu": phases.split(count, mails),
            "series": series,
        }
        if exited:
            figures["error"] = f"{', '.join(exited)} exited during the recovery"
        if done:
            figures["interactions_per_s"] = round(count / figures["recovery_s"], 1)
        return figures
    finally:
        await watcher.stop()
        await admin.close()


def sample_with_py_spy(pid: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy recording ``pid`` into ``out`` until ``stop_py_spy`` (raw format, running
    threads only, native frames kept: ``bench.task_profile`` counts GC from them)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [py_spy, "record", "--pid", str(pid), "--format", "raw", "--output", str(out)]
    command += ["--rate", str(PY_SPY_RATE), "--native", "--threads"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_py_spy(spies: list[subprocess.Popen[bytes]]) -> None:
    """SIGINT: py-spy writes what it sampled and exits."""
    for proc in spies:
        proc.send_signal(signal.SIGINT)
    for proc in spies:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def sample(
    started: float,
    watcher: RoutingWatcher,
    sink: SmtpSink,
    mails_before: int,
    pids: dict[str, int],
) -> dict[str, Any]:
    """One point of the series: seconds since the router's start, progress, RSS (MB)."""
    point: dict[str, Any] = {
        "t_s": round(time.time() - started, 1),
        "routed": len(watcher.routed),
        "mails": sink.count() - mails_before,
    }
    for name, pid in pids.items():
        point[f"{name}_rss_mb"] = rss_mb(pid)
    return point


def one_pass(
    sink: SmtpSink,
    bootstrap: str,
    mix: Mix,
    budget: float,
    profile: Path | None = None,
    spy: Path | None = None,
) -> dict[str, Any]:
    """A fresh system: the router prepared and stopped, the backlog produced, then recovery."""
    label = "backlog" if profile is None else "backlog-profiled"
    with tempfile.TemporaryDirectory(prefix="omnidesk-backlog-") as home:
        system, idle = prepared_system(Path(home), sink.port, bootstrap)
        try:
            produced = asyncio.run(produce_backlog(system.kafka, mix, uuid.uuid4().hex[:8]))
            print(f"{label}: produced {mix.count} interactions at {produced:,.0f}/s", flush=True)
            figures = asyncio.run(observe(system, sink, bootstrap, mix.count, budget, profile, spy))
        finally:
            stop(system)
            keep_logs(system, label)
            delete_run_topics(system.kafka)
    print(f"{label}: { {k: v for k, v in figures.items() if k != 'series'} }", flush=True)
    return {"produce_per_s": round(produced, 1), "idle_rss_mb": idle, **figures}


def run(
    count: int,
    budget: float,
    profile: Path | None = None,
    profile_count: int = 20_000,
    spy: Path | None = None,
    smtp_sink: str | None = None,
) -> dict[str, Any]:
    bootstrap = bootstrap_servers()
    mix = Mix(count)
    with SmtpSink(keep=False, kind=smtp_sink) as sink:
        kind = sink.kind
        figures = one_pass(sink, bootstrap, mix, budget, spy=spy)
        if profile is not None:
            # A second, smaller pass with router and notifier under pyinstrument, after the
            # measured one has stopped (its overhead must not touch the measured figures).
            profile.mkdir(parents=True, exist_ok=True)
            profiled = one_pass(sink, bootstrap, Mix(profile_count), PROFILE_BUDGET_S, profile)
            figures["profile"] = {
                "interactions": profile_count,
                "recovery_s": profiled.get("recovery_s"),
                "reports": sorted(str(p) for p in profile.glob("backlog-*.pstats")),
            }
    return {
        "target": f"{count} interactions routed and notices sent ≤ {TARGET_S:g} s after "
        "the router starts",
        "mix": {
            "customers": mix.customers,
            "repeat_share": round(1 - mix.new_share, 2),
            "channels": "half e-mail (imap), half web chat (no reply path: its "
            "acknowledgement is suppressed, the agent's mail is sent)",
        },
        "store": "sqlite",
        "smtp_sink": kind,
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="interactions in the backlog")
    parser.add_argument("--budget", type=float, default=300.0, help="max seconds to wait")
    parser.add_argument("--profile", type=Path, default=None, help="folder for pyinstrument")
    parser.add_argument(
        "--profile-count", type=int, default=20_000, help="interactions in the profiled pass"
    )
    parser.add_argument(
        "--py-spy", type=Path, default=None, help="folder for py-spy samples of the measured pass"
    )
    parser.add_argument(
        "--smtp-sink",
        choices=KINDS,
        default=None,
        help="the SMTP sink: go (compiled) when built, else aiosmtpd; or force either "
        "(also BENCH_SMTP_SINK)",
    )
    args = parser.parse_args()
    figures = run(
        args.count, args.budget, args.profile, args.profile_count, args.py_spy, args.smtp_sink
    )
    write_result("backlog_recovery", figures)


if __name__ == "__main__":
    main()

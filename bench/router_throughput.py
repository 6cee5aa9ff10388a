"""Router benchmark: interactions/s to routing decisions, and decision latency.

Per store (SQLite, then PostgreSQL on a private server): the router runs as its
own process (``python -m services.router``) on fresh topics and a fresh database.

1. throughput — N interactions are on the topic before the router starts; the
   rate is measured between the first and the last ``InteractionRouted`` seen
   on ``support.routing.v1`` (so start-up is not counted);
2. latency — interactions published at fixed rates (default 250/s, 500/s, then 1,000/s);
   latency is from when its publish was due (the schedule: a bench running late shows
   as latency) → its ``InteractionRouted`` read back from ``support.routing.v1``
   (consumer, decision, commit, outbox relay and both Kafka hops included). The stream
   runs on at its rate for ``--run-on`` seconds after each measured window, so that the
   window's last interactions meet a running stream, as in production, not a stopping
   one (whose last fetch waits out the router's fetch max wait for bytes that never
   come: up to 100 ms more for the last ~26 of 3,000, nearly the whole 1 % at 1,000/s);
   those run-on interactions are reported apart (``after_window``).
   ``--trace`` runs the router as ``bench.router_trace`` and adds p50/p99 per hop of that
   path (bench producer, router fetch, routing, hand-over, relay read, publish, ack,
   read back) and the router's polls, offset commits, relay rounds and SQLite mark writes. Each rate
   starts from a drained system: after the previous phase, the bench waits until the
   routing topic has been quiet for ``QUIET_S`` (the relay has published the whole
   outbox backlog the throughput phase left, not only the ``InteractionRouted``
   events), and reports how long that took (``drained_after_s``).

3. ``--decide-only`` — no broker, no subprocess: ``route_batch`` called in this process
   on polls of ``--batch`` interactions (the consumer's default 500), i.e. the decision
   and store work alone (the router's own ceiling); ``--profile`` writes a pyinstrument
   report of that loop to ``bench/results/router_profile_<store>.txt``.

Usage: python -m bench.router_throughput [--count 3000] [--rates 250,500,1000] [--seconds 3]
                                        [--trace]
       python -m bench.router_throughput --decide-only [--count 20000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from bench.common import (
    bench_gc_paused,
    bootstrap_servers,
    latency_summary_ms,
    paced,
    percentile,
    run_topic_names,
    scratch_folder,
    write_result,
)
from bench.cpu_accounting import CpuMeter, broker_pid, cpu_split
from bench.topic_reader import BackgroundTopicReader
from libs.common.cloudevents import CloudEvent, decode
from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from libs.common.events.routing import InteractionRouted
from libs.common.gc_tuning import tune_for_polls
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.service.interactions import Incoming, route_batch
from services.router.settings import RouterSettings
from tools.testing.postgres import PostgresServer, postgres_for_tests
from tools.testing.system import free_port, run_topics

#: Customers of a 3,000 backlog (the default count): each one's first contact opens a
#: conversation, then follow-ups in their threads. ``--customers`` defaults to two thirds
#: of ``--count`` so a longer backlog keeps that mix (2/3 new conversations) instead of
#: turning into follow-ups, which cost the router less.
CUSTOMERS = 2000
#: The routing topic quiet this long = the relay has nothing left to publish (longer than
#: the relay's interval).
QUIET_S = 1.0
#: The relay's database poll when nothing is handed over: the router's default. A commit
#: wakes the relay at once (``CommittedOutbox.wake``), so the interval only paces rounds
#: for rows it was not handed (a crash's, another replica's). This bench used 0.02 s from
#: before the hand-over: on PostgreSQL ~50 empty rounds a second (BEGIN, the lock-and-mark
#: statement, ROLLBACK: ~4.5 per routed poll at 1,000/s) on the cores the poll needs.
RELAY_INTERVAL_S = RouterSettings.model_fields["relay_interval_s"].default


def customers_for(count: int) -> int:
    """Customers so that two thirds of ``count`` interactions are first contacts."""
    return max(1, count * 2 // 3)


def interaction(n: int, customers: int = CUSTOMERS) -> Interaction:
    now = datetime.now(UTC)
    customer = n % customers
    if n % 3 == 0:
        return Interaction(
            channel=Channel.CHAT,
            provider="whatsapp",
            integration="wa",
            occurred_at=now,
            received_at=now,
            customer=CustomerIdentity(phone=f"+8210{customer:08d}"),
            body=MessageBody(text="출금이 지연되고 있어요"),
            thread=ThreadHints(provider_thread_id=str(customer)),
        )
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(email=f"c{customer}@example.com"),
        subject="Deposit not credited",
        body=MessageBody(text="My deposit is missing"),
        thread=ThreadHints(
            message_id=f"b{n}@c{customer}", in_reply_to=[f"b{n - customers}@c{customer}"]
        ),
    )


def kafka_settings(servers: str) -> KafkaSettings:
    """The bench's producer plays the ingest services: their producer settings (the
    default ``KAFKA_LINGER_MS``), not a longer linger of its own."""
    topics = run_topics("bench", partitions=6)
    return KafkaSettings(bootstrap_servers=servers, topics=topics)


def router_env(
    kafka: KafkaSettings, database_url: str, state_dir: str, *, relay_interval_s: float
) -> dict[str, str]:
    return {
        **os.environ,
        "ROUTER_DATABASE_URL": database_url,
        "ROUTER_STATE_DIR": state_dir,
        "ROUTER_HTTP_PORT": str(free_port()),
        "ROUTER_CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:8]}",
        "ROUTER_CSAT_SECRET": "bench-secret-0123456789abcdef",
        "ROUTER_DEV_MODE": "false",
        "ROUTER_LOG_LEVEL": "WARNING",
        "ROUTER_RELAY_INTERVAL_S": str(relay_interval_s),
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "KAFKA_TOPIC_INTERACTIONS": kafka.topics.interactions,
        "KAFKA_TOPIC_ROUTING": kafka.topics.routing,
        "KAFKA_TOPIC_NOTIFICATIONS": kafka.topics.notifications,
        "KAFKA_TOPIC_DEADLETTER": kafka.topics.deadletter,
    }


class RoutedWatcher:
    """Arrival time of each InteractionRouted on the routing topic, read continuously
    in the background (so arrivals are stamped when they arrive, also while the
    bench is busy publishing)."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.arrivals: dict[str, float] = {}
        self.last_record_at = time.monotonic()
        self._changed = asyncio.Event()
        self._reader = BackgroundTopicReader(kafka, kafka.topics.routing, self._take)

    async def start(self) -> None:
        await self._reader.start()

    async def stop(self) -> None:
        await self._reader.stop()

    def _take(self, batch, now: float) -> None:  # type: ignore[no-untyped-def]
        for records in batch.values():
            if records:
                self.last_record_at = time.monotonic()
            for record in records:
                event = _routed(record)
                if event is not None:
                    self.arrivals.setdefault(event, now)
        if batch:
            self._changed.set()

    async def until_quiet(self, quiet_s: float, timeout_s: float) -> float:
        """Wait until no record has arrived for ``quiet_s``; returns the seconds waited."""
        began = time.monotonic()
        deadline = began + timeout_s
        while True:
            now = time.monotonic()
            quiet_left = quiet_s - (now - self.last_record_at)
            if quiet_left <= 0 or now >= deadline:
                return round(now - began, 2)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(quiet_left, deadline - now))

    async def until(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.arrivals) < count and time.monotonic() < deadline:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), deadline - time.monotonic())


def _routed(record) -> str | None:  # type: ignore[no-untyped-def]
    for key, value in record.headers or ():
        if key == "ce_type":
            if value != InteractionRouted.ce_type.encode():
                return None
            break
    event: CloudEvent = decode(record.headers, record.value)
    return event.data.interaction_id  # type: ignore[attr-defined]


async def publish_all(
    producer: EventProducer,
    kafka: KafkaSettings,
    ids: list[str],
    start: int,
    customers: int = CUSTOMERS,
) -> None:
    async def one(n: int, event_id: str) -> None:
        body = interaction(n, customers)
        event = CloudEvent(id=event_id, source="bench", type=body.event_type(), data=body)
        await producer.publish(kafka.topics.interactions, event, key=body.customer_key)

    for offset in range(0, len(ids), 1000):
        chunk = ids[offset : offset + 1000]
        await asyncio.gather(*(one(start + offset + i, e) for i, e in enumerate(chunk)))


async def publish_at_rate(
    producer: EventProducer,
    kafka: KafkaSettings,
    *,
    rate: int,
    seconds: float,
    start: int,
    stamps: dict[str, dict[str, float]] | None = None,
    customers: int = CUSTOMERS,
) -> dict[str, float]:
    """Returns event id -> when it was due to be sent. Latency counts from then, not from
    when the bench got round to it: a bench that falls behind its schedule shows as
    latency (and as the ``bench_late`` hop in ``--trace``), never hides it. ``stamps``
    (if given) gets per event when it was created and when the broker acked it."""
    sent: dict[str, float] = {}
    tasks = []
    began = time.perf_counter()
    total = int(rate * seconds)
    async for n, due in paced(total, rate, began):
        body = interaction(start + n, customers)
        event_id = f"lat-{uuid.uuid4()}"
        event = CloudEvent(id=event_id, source="bench", type=body.event_type(), data=body)
        sent[event_id] = due
        task = asyncio.create_task(
            producer.publish(kafka.topics.interactions, event, key=body.customer_key)
        )
        if stamps is not None:
            stamps[event_id] = {"due": due, "created": time.perf_counter()}
            task.add_done_callback(partial(_stamp_ack, stamps[event_id]))
        tasks.append(task)
    await asyncio.gather(*tasks)
    return sent


def _stamp_ack(stamps: dict[str, float], _task: asyncio.Task[object]) -> None:
    stamps["bench_acked"] = time.perf_counter()


def postmaster_pid(server: PostgresServer | None) -> int | None:
    """The PostgreSQL server's pid (its backends are its children), from postmaster.pid."""
    if server is None:
        return None
    try:
        return int((server.data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


async def bench_store(
    name: str,
    database_url: str,
    args: argparse.Namespace,
    servers: str,
    state_dir: Path,
    database_pid: int | None = None,
) -> dict:
    kafka = kafka_settings(servers)
    await create_topics(kafka)
    throughput_ids = [f"tp-{n}" for n in range(args.count)]
    watcher = RoutedWatcher(kafka)
    env = router_env(kafka, database_url, str(state_dir), relay_interval_s=args.relay_interval)
    trace_file = state_dir / "trace.json"
    if args.trace:
        env["ROUTER_TRACE_FILE"] = str(trace_file)
    phases: list[tuple[int, dict[str, float], dict[str, dict[str, float]]]] = []
    async with EventProducer(kafka, client_id="bench") as producer:
        await publish_all(producer, kafka, throughput_ids, 0, args.customers)
        router = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.router_trace" if args.trace else "services.router",
            env=env,
        )
        await watcher.start()
        try:
            await watcher.until(1, timeout_s=60)  # the router is up and deciding
            # CPU per decision of the throughput phase, by process (the steadiest figure
            # here: wall throughput varies run to run with what else the cores do)
            meter = CpuMeter(
                {
                    "router": router.pid,
                    "kafka broker": broker_pid(servers),
                    **({"postgresql": database_pid} if database_pid else {}),
                },
                alone={"bench": os.getpid()},
            )
            first, cpu_before = len(watcher.arrivals), meter.sample()
            backlog_sampler = (
                WaitSampler(database_url)
                if args.trace and database_url.startswith("postgresql")
                else None
            )
            async with backlog_sampler or nullcontext():
                await watcher.until(args.count, timeout_s=args.budget)
            cpu = cpu_split(
                cpu_before,
                meter.sample(),
                messages=len(watcher.arrivals) - first,
                cpus=os.cpu_count() or 1,
            )
            done = [watcher.arrivals[i] for i in throughput_ids if i in watcher.arrivals]
            elapsed = max(done) - min(done) if len(done) > 1 else float("nan")
            latency = []
            start = args.count
            if args.analyze and database_url.startswith("postgresql"):
                await analyze(database_url)
            postgres = database_url.startswith("postgresql")
            for rate in args.rates:
                # from a drained system: the previous phase's relay backlog published
                drained = await watcher.until_quiet(QUIET_S, timeout_s=args.budget)
                load = os.getloadavg()[0]
                maintenance_before = await maintenance_counts(database_url) if postgres else {}
                stamps: dict[str, dict[str, float]] = {}
                sampling = args.trace and database_url.startswith("postgresql")
                sampler = WaitSampler(database_url) if sampling else None
                paused = nullcontext() if args.bench_gc else bench_gc_paused()
                with paused:
                    async with sampler or nullcontext():
                        published = await publish_at_rate(
                            producer,
                            kafka,
                            rate=rate,
                            seconds=args.seconds + args.run_on,
                            start=start,
                            stamps=stamps,
                            customers=args.customers,
                        )
                        start += len(published)
                        await watcher.until(start, timeout_s=args.budget)
                sent, after = split_window(published, int(rate * args.seconds))
                stamps = {event_id: stamps[event_id] for event_id in sent if event_id in stamps}
                latency.append(
                    {
                        **latency_figures(watcher, sent, rate),
                        "after_window": latency_figures(watcher, after, rate),
                        "drained_after_s": drained,
                        "load_average_1m": load,
                        **({"server_waits": sampler.figures()} if sampler else {}),
                        **(
                            {
                                "maintenance_during": maintenance_ran(
                                    maintenance_before, await maintenance_counts(database_url)
                                )
                            }
                            if postgres
                            else {}
                        ),
                    }
                )
                phases.append((rate, sent, stamps))
        finally:
            router.send_signal(signal.SIGTERM)
            await router.wait()
            await watcher.stop()
            # Each run's topics are its own: left behind they fill the broker's disk.
            await delete_topics(kafka, run_topic_names(kafka.topics))
    backlog: dict = {}
    if args.trace:
        trace = json.loads(trace_file.read_text())
        backlog = {"polls": backlog_poll_figures(trace, throughput_ids)}
        if backlog_sampler is not None:
            backlog["server_waits"] = backlog_sampler.figures()
        for figures, (_rate, _sent, stamps) in zip(latency, phases, strict=True):
            figures["hops"] = hop_figures(trace["timeline"], stamps, watcher.arrivals)
            figures["polls"] = poll_figures(trace, stamps)
            figures["tail_hops"] = tail_figures(trace["timeline"], stamps, watcher.arrivals)
    return {
        "store": name,
        "throughput": {
            "interactions": args.count,
            "customers": args.customers,
            "decided": len(done),
            "seconds": round(elapsed, 3),
            "interactions_per_s": round((len(done) - 1) / elapsed, 1) if elapsed else None,
            "cpu": cpu,
            **backlog,
        },
        "latency": latency,
    }


#: An interaction's path, in order: the bench's stamps, the router's (``bench.router_trace``),
#: then the bench reading its InteractionRouted back.
HOPS = [
    "due",
    "created",
    "bench_acked",
    "fetched",
    "routing_began",
    "handed_over",
    "round_began",
    "publish_began",
    "acked",
    "arrived",
]


def hop_figures(
    timeline: dict[str, dict[str, float]],
    stamps: dict[str, dict[str, float]],
    arrivals: dict[str, float],
) -> dict[str, dict[str, float]]:
    """p50/p99 of each hop (previous stamp -> this one) over the phase's interactions."""
    hops: dict[str, list[float]] = {f"{a}->{b}": [] for a, b in itertools.pairwise(HOPS)}
    for event_id, bench in stamps.items():
        path = {**bench, **timeline.get(event_id, {})}
        if event_id in arrivals:
            path["arrived"] = arrivals[event_id]
        for a, b in itertools.pairwise(HOPS):
            if a in path and b in path:
                hops[f"{a}->{b}"].append(path[b] - path[a])
    return {
        hop: {k: v for k, v in latency_summary_ms(values).items() if k in ("p50_ms", "p99_ms")}
        for hop, values in hops.items()
        if values
    }


def tail_figures(
    timeline: dict[str, dict[str, float]],
    stamps: dict[str, dict[str, float]],
    arrivals: dict[str, float],
) -> dict[str, float]:
    """Where the slowest 1 % of the phase's interactions (end to end, due -> arrived) spent
    their time: each hop's mean over them, in ms. Per-hop p99s do not add up to the
    end-to-end p99 (each hop's slowest interactions are different ones); this says which
    hops the p99 interactions themselves were slow in."""
    paths = []
    for event_id, bench in stamps.items():
        if event_id in arrivals and "due" in bench:
            paths.append({**bench, **timeline.get(event_id, {}), "arrived": arrivals[event_id]})
    if not paths:
        return {}
    paths.sort(key=lambda path: path["arrived"] - path["due"], reverse=True)
    slowest = paths[: max(1, len(paths) // 100)]
    figures: dict[str, float] = {"count": len(slowest)}
    for a, b in itertools.pairwise(HOPS):
        values = [path[b] - path[a] for path in slowest if a in path and b in path]
        if values:
            figures[f"{a}->{b}"] = round(statistics.fmean(values) * 1000, 1)
    figures["end to end"] = round(
        statistics.fmean(path["arrived"] - path["due"] for path in slowest) * 1000, 1
    )
    # when in the window they were due (s from its first due): one cluster is one stall
    window_began = min(path["due"] for path in paths)
    figures["due_s"] = sorted(round(path["due"] - window_began, 2) for path in slowest)
    return figures


def poll_figures(trace: dict, stamps: dict[str, dict[str, float]]) -> dict[str, float]:
    """The router's polls (and SQLite mark writes, relay rounds) while it routed the phase:
    how many, their size, wall and event-loop CPU milliseconds."""
    timeline = trace["timeline"]
    began = [timeline[i]["routing_began"] for i in stamps if "routing_began" in timeline.get(i, {})]
    if not began:
        return {}
    first, last = min(began), max(began)
    polls = [p for p in trace["polls"] if first <= p["began"] <= last]
    marks = [m for m in trace["marks"] if first <= m["began"] <= last]
    commits = [c["ms"] for c in trace["commits"] if first <= c["began"] <= last]
    rounds = [r["ms"] for r in trace.get("rounds", ()) if first <= r["began"] <= last]
    publishes = [p for p in trace.get("publishes", ()) if first <= p["began"] <= last]
    return {
        "polls": len(polls),
        "records_mean": round(statistics.fmean(p["records"] for p in polls), 1),
        "records_max": max(p["records"] for p in polls),
        "routing_ms_p50": round(statistics.median(p["ms"] for p in polls), 1),
        "routing_ms_max": round(max(p["ms"] for p in polls), 1),
        "routing_loop_cpu_ms_p50": round(statistics.median(p["loop_cpu_ms"] for p in polls), 1),
        "marks": len(marks),
        "mark_ms_p50": round(statistics.median(m["ms"] for m in marks), 1) if marks else None,
        "offset_commit_ms_p50": round(statistics.median(commits), 1) if commits else None,
        **round_trip_figures(trace, first, last, len(polls)),
        "relay_rounds": len(rounds),
        "relay_round_ms_p50": round(statistics.median(rounds), 1) if rounds else None,
        "relay_round_ms_max": round(max(rounds), 1) if rounds else None,
        "relay_publish_split": publish_split(publishes),
        **collection_figures(trace.get("collections", ()), first, last),
    }


def collection_figures(collections: Iterable[dict], first: float, last: float) -> dict:
    """The garbage collector's pauses on the router's loop between ``first`` and ``last``:
    automatic ones (during polls) and the memory upkeep's (between them), count and ms."""
    figures = {}
    for name, upkeep in (("gc", False), ("upkeep_gc", True)):
        pauses = [
            c["ms"] for c in collections if first <= c["began"] <= last and c["upkeep"] is upkeep
        ]
        figures[f"{name}_runs"] = len(pauses)
        figures[f"{name}_ms_max"] = round(max(pauses), 1) if pauses else None
        figures[f"{name}_ms_total"] = round(sum(pauses), 1)
    # the upkeep's collections the next poll's fetched records waited for
    held = [
        c["ms"]
        for c in collections
        if first <= c["began"] <= last and c["upkeep"] and c.get("records_waiting")
    ]
    figures["upkeep_gc_holding_a_poll"] = len(held)
    figures["upkeep_gc_holding_a_poll_ms_total"] = round(sum(held), 1)
    return figures


def backlog_poll_figures(trace: dict, ids: list[str]) -> dict:
    """``--trace``, the throughput phase (a backlog): ``poll_figures`` over its polls, and
    where a poll's cycle goes: the handler's wall time (routing, the transaction, its
    round trips), of which the event loop's CPU, and the rest of the cycle between two
    polls' starts (getmany, decode, the offset commit's turn, the relay's CPU between)."""
    figures = poll_figures(trace, {i: {} for i in ids})
    timeline = trace["timeline"]
    began = [timeline[i]["routing_began"] for i in ids if "routing_began" in timeline.get(i, {})]
    if not began:
        return figures
    first, last = min(began), max(began)
    polls = sorted(
        (p for p in trace["polls"] if first <= p["began"] <= last), key=lambda p: p["began"]
    )
    if len(polls) > 1:
        cycles = [b["began"] - a["began"] for a, b in itertools.pairwise(polls)]
        handled = polls[:-1]  # each poll's cycle: from its start to the next poll's
        cycle_ms = statistics.fmean(cycles) * 1000
        wall_ms = statistics.fmean(p["ms"] for p in handled)
        cpu_ms = statistics.fmean(p["loop_cpu_ms"] for p in handled)
        figures["cycle_ms_mean"] = round(cycle_ms, 2)
        figures["handler_ms_mean"] = round(wall_ms, 2)
        figures["handler_loop_cpu_ms_mean"] = round(cpu_ms, 2)
        figures["handler_waiting_ms_mean"] = round(wall_ms - cpu_ms, 2)
        figures["between_polls_ms_mean"] = round(cycle_ms - wall_ms, 2)
        if "thread_on_cpu_s" in polls[0]:
            # the loop's thread over the cycles, from its schedstat: on a CPU, queued for
            # one (the machine's other work), asleep (waiting for the servers, or idle)
            span = polls[-1]["began"] - polls[0]["began"]
            on_cpu = polls[-1]["thread_on_cpu_s"] - polls[0]["thread_on_cpu_s"]
            runnable = polls[-1]["thread_runnable_s"] - polls[0]["thread_runnable_s"]
            cycles_n = len(polls) - 1
            figures["cycle_thread_on_cpu_ms"] = round(on_cpu / cycles_n * 1000, 2)
            figures["cycle_thread_runnable_ms"] = round(runnable / cycles_n * 1000, 2)
            figures["cycle_thread_asleep_ms"] = round(
                (span - on_cpu - runnable) / cycles_n * 1000, 2
            )
            figures["handler_asleep_ms_mean"] = round(
                statistics.fmean(p["asleep_ms"] for p in handled), 2
            )
    return figures


#: a relay publish's steps (``bench.router_trace``'s ``publishes``): the sender's wake-up
#: and request (loop turns), the broker's answer on the socket (the broker and the reader's
#: turn), the sender's turn that handles it, the relay's turn that resumes with the acks
PUBLISH_STEPS = (
    ("began", "built", "publish->request"),
    ("built", "read", "request->answer read"),
    ("read", "handled", "answer read->handled"),
    ("handled", "acked", "handled->relay resumed"),
)


def publish_split(publishes: list[dict[str, float]]) -> dict[str, dict[str, float]] | None:
    """p50/p99 milliseconds of each step of the relay's publishes (``PUBLISH_STEPS``)."""
    if not publishes:
        return None
    split = {}
    for start, end, name in PUBLISH_STEPS:
        ms = [(p[end] - p[start]) * 1000 for p in publishes]
        split[name] = {
            "p50_ms": round(percentile(ms, 50), 1),
            "p99_ms": round(percentile(ms, 99), 1),
        }
    return {"count": len(publishes), **split}


def round_trip_figures(trace: dict, first: float, last: float, polls: int) -> dict:
    """PostgreSQL: the router's round trips to the server while it routed the phase, per
    task (the poll's, the relay's): how many per poll, milliseconds waited, and the
    statements that waited longest in total."""
    trips = [t for t in trace.get("round_trips", ()) if first <= t["began"] <= last]
    if not trips:
        return {}
    figures: dict = {}
    for scope in ("poll", "relay", "mark", "other"):
        mine = [t for t in trips if t["scope"] == scope]
        if not mine:
            continue
        by_sql: dict[str, list[float]] = {}
        for t in mine:
            by_sql.setdefault(t["sql"], []).append(t["ms"])
        top = sorted(by_sql.items(), key=lambda kv: -sum(kv[1]))[:8]
        figures[f"{scope}_round_trips"] = {
            "count": len(mine),
            "per_poll": round(len(mine) / polls, 1) if polls else None,
            "ms_total": round(sum(t["ms"] for t in mine), 1),
            "ms_per_poll": round(sum(t["ms"] for t in mine) / polls, 1) if polls else None,
            **_hop_split(mine, polls),
            "lock_wait": _lock_wait(mine),
            "top": {
                sql: {
                    "n": len(ms),
                    "ms_total": round(sum(ms), 1),
                    "ms_p50": round(statistics.median(ms), 2),
                    "ms_max": round(max(ms), 1),
                }
                for sql, ms in top
            },
        }
    return figures


def _hop_split(trips: list[dict], polls: int) -> dict:
    """SQLite: of the hops' milliseconds per poll, the functions' own run in aiosqlite's
    thread, the wait before it (queue, thread wake-up, GIL) and after it (the loop
    resuming the task)."""
    split: dict[str, float | int] = {}
    for part in ("exec_ms", "exec_cpu_ms", "exec_runnable_ms", "queue_ms", "resume_ms"):
        values = [t[part] for t in trips if part in t]
        if values and polls:
            split[f"{part}_per_poll"] = round(sum(values) / polls, 1)
    asleep = sorted(
        t["exec_ms"] - t["exec_cpu_ms"] - t["exec_runnable_ms"]
        for t in trips
        if "exec_runnable_ms" in t
    )
    if asleep:
        # the database thread neither on a CPU nor queued for one inside a hop: waiting on
        # the disk, nearly always the COMMIT's fsync (synchronous=FULL). A poll behind a
        # slow one waits with it, so a phase's slowest few decide its p99.
        split["exec_asleep_ms_p50"] = round(statistics.median(asleep), 2)
        split["exec_asleep_ms_max"] = round(asleep[-1], 1)
        split["exec_asleep_over_25_ms"] = sum(1 for ms in asleep if ms > 25)
    return split


def _lock_wait(trips: list[dict]) -> dict | None:
    """The assignment lock's round trips (``pg_advisory_xact_lock``): how long each waited
    for it, p50/p90/max — what a poll stuck behind the scheduler (or the reverse) sees."""
    waits = sorted(
        t["ms"] for t in trips if "pg_advisory_xact_lock" in t["sql"] or t["sql"] == "WRITE LOCK"
    )
    if not waits:
        return None
    return {
        "n": len(waits),
        "ms_p50": round(statistics.median(waits), 2),
        "ms_p90": round(waits[int(0.9 * (len(waits) - 1))], 2),
        "ms_max": round(waits[-1], 1),
    }


async def analyze(database_url: str) -> None:
    """Statistics for the planner, as a production store has them (autovacuum's analyze).

    A fresh database has none until autovacuum's first round (``autovacuum_naptime``, a
    minute): the planner then guesses the tables' rows from their pages and, on the
    conversations' wide rows, guessed ~160 where 3,000 were. It then hash-joined the whole
    conversations table for the poll's Message-ID lookup, filtered every identity by value
    for the owners lookup and bitmap-scanned every dead ``ix_outbox_unsent`` entry for the
    relay's next rows: milliseconds per statement that grow with the tables."""
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def maintenance_counts(database_url: str) -> dict[str, tuple[int, int]]:
    """PostgreSQL: each table's autovacuum and autoanalyze runs so far
    (``pg_stat_user_tables``). Taken before and after a latency phase, they say whether
    the server's own maintenance ran during it: after the throughput phase's 20,000
    interactions autovacuum has dead outbox rows and new rows to catch up with, and its
    worker takes a core from the router and its server session for as long as it runs."""
    import asyncpg

    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await connection.fetch(
            "SELECT relname, autovacuum_count, autoanalyze_count FROM pg_stat_user_tables"
        )
    finally:
        await connection.close()
    return {row["relname"]: (row["autovacuum_count"], row["autoanalyze_count"]) for row in rows}


def maintenance_ran(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> dict[str, list[str]]:
    """The tables autovacuum vacuumed and analyzed between two ``maintenance_counts``.
    A run still going at ``after`` is not counted (the counters move when it ends)."""
    ran: dict[str, list[str]] = {"autovacuum": [], "autoanalyze": []}
    for table, (vacuums, analyzes) in sorted(after.items()):
        vacuums_before, analyzes_before = before.get(table, (0, 0))
        if vacuums > vacuums_before:
            ran["autovacuum"].append(table)
        if analyzes > analyzes_before:
            ran["autoanalyze"].append(table)
    return ran


class WaitSampler:
    """PostgreSQL, ``--trace``: what the router's server sessions are doing, sampled every
    ``interval_s`` from a side connection (``pg_stat_activity``): per sample, each other
    session of the database counted by state and wait event (``Lock/advisory``,
    ``IO/WALSync``, ``Client/ClientRead`` = waiting for the router, none = on CPU)."""

    def __init__(self, database_url: str, *, interval_s: float = 0.005) -> None:
        self._dsn = database_url.replace("postgresql+asyncpg", "postgresql")
        self._interval_s = interval_s
        self.counts: dict[str, int] = {}
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> WaitSampler:
        import asyncpg

        self._connection = await asyncpg.connect(self._dsn)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self._connection.close()

    async def _run(self) -> None:
        query = (
            "SELECT state, wait_event_type, wait_event, left(query, 40) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND backend_type = 'client backend' AND state <> 'idle'"
        )
        while True:
            self.samples += 1
            for state, kind, event, sql in await self._connection.fetch(query):
                key = f"{state} | {kind or 'CPU'}/{event or '-'} | {' '.join(sql.split())}"
                self.counts[key] = self.counts.get(key, 0) + 1
            await asyncio.sleep(self._interval_s)

    def figures(self) -> dict:
        top = sorted(self.counts.items(), key=lambda kv: -kv[1])[:12]
        return {"samples": self.samples, "non_idle_sessions": dict(top)}


def print_hops(store: str, figures: dict) -> None:
    """The ``--trace`` breakdown as a table: one line per hop, p50/p99 per rate."""
    backlog = figures.get("throughput", {}).get("polls")
    if backlog:
        head = {k: v for k, v in backlog.items() if not k.endswith("_round_trips")}
        print(f"{store}: backlog polls: {head}")
        for key, trips in backlog.items():
            if key.endswith("_round_trips"):
                head = {k: v for k, v in trips.items() if k != "top"}
                print(f"  backlog {key}: {head}")
                for sql, numbers in trips["top"].items():
                    print(f"      {numbers}  {sql}")
        waits = figures["throughput"].get("server_waits")
        if waits:
            print(f"  backlog server sessions ({waits['samples']} samples):")
            for key, n in waits["non_idle_sessions"].items():
                print(f"      {n:>6}  {key}")
    phases = [p for p in figures.get("latency", []) if "hops" in p]
    if not phases:
        return
    print(f"{store}: where the time goes (ms, p50 / p99; load {phases[0]['load_average_1m']:.1f})")
    print(
        f"  {'hop':<32}"
        + "".join(f"{p['rate_per_s']:>14}/s" for p in phases)
        + "   slowest 1 % (mean)"
    )
    last = phases[-1].get("tail_hops", {})
    for hop in phases[0]["hops"]:
        cells = [p["hops"].get(hop, {}) for p in phases]
        print(
            f"  {hop:<32}"
            + "".join(f"{c.get('p50_ms', 0):>8.1f} /{c.get('p99_ms', 0):>6.1f}" for c in cells)
            + f"{last.get(hop, 0):>12.1f}"
        )
    print(
        f"  {'end to end':<32}"
        + "".join(f"{p['p50_ms']:>8.1f} /{p['p99_ms']:>6.1f}" for p in phases)
        + f"{last.get('end to end', 0):>12.1f}"
    )
    for p in phases:
        polls = {
            k: v
            for k, v in p["polls"].items()
            if not k.endswith("_round_trips") and k != "relay_publish_split"
        }
        print(f"  {p['rate_per_s']}/s polls: {polls}")
        print(f"  {p['rate_per_s']}/s slowest 1 % due at (s): {p['tail_hops'].get('due_s')}")
        split = p["polls"].get("relay_publish_split")
        if split:
            print(f"  {p['rate_per_s']}/s relay publishes (ms, p50 / p99): {split}")
        for key, trips in p["polls"].items():
            if key.endswith("_round_trips"):
                head = {k: v for k, v in trips.items() if k != "top"}
                print(f"  {p['rate_per_s']}/s {key}: {head}")
                for sql, figures in trips["top"].items():
                    print(f"      {figures}  {sql}")
        waits = p.get("server_waits")
        if waits:
            print(f"  {p['rate_per_s']}/s server sessions ({waits['samples']} samples):")
            for key, n in waits["non_idle_sessions"].items():
                print(f"      {n:>6}  {key}")


def split_window(
    published: dict[str, float], measured: int
) -> tuple[dict[str, float], dict[str, float]]:
    """The phase's first ``measured`` interactions (in publish order), and those the stream
    ran on with after its measured window (``--run-on``)."""
    items = list(published.items())
    return dict(items[:measured]), dict(items[measured:])


def latency_figures(watcher: RoutedWatcher, sent: dict[str, float], rate: int) -> dict:
    latencies = [watcher.arrivals[i] - t for i, t in sent.items() if i in watcher.arrivals]
    return {
        "rate_per_s": rate,
        "published": len(sent),
        "decided": len(latencies),
        **latency_summary_ms(latencies),
    }


async def decide_only(name: str, database_url: str, args: argparse.Namespace) -> dict:
    """Polls of ``args.batch`` routed in this process: decisions and store writes only."""
    with tempfile.TemporaryDirectory() as folder:
        settings = RouterSettings(
            state_dir=Path(folder),
            database_url=database_url,
            kafka=KafkaSettings(),
            dev_mode=False,
        )
        engine = await open_store(settings)
        ctx = build_context(settings, engine)
        polls = [
            [
                Incoming(f"tp-{n}", interaction(n, args.customers))
                for n in range(start, min(start + args.batch, args.count))
            ]
            for start in range(0, args.count, args.batch)
        ]
        tune_for_polls()  # as python -m services.router does
        profiler = _profiler(args.profile)
        started, cpu_started = time.perf_counter(), time.process_time()
        poll_seconds = []
        with profiler:
            for poll in polls:
                began = time.perf_counter()
                await route_batch(ctx, poll)
                poll_seconds.append(time.perf_counter() - began)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started  # this process only: steadier on a busy machine
        await engine.dispose()
    if args.profile:
        _write_profile(name, profiler.output_text(unicode=True, color=False, show_all=False))
    return {
        "store": name,
        "decide_only": {
            "interactions": args.count,
            "batch": args.batch,
            "seconds": round(elapsed, 3),
            "interactions_per_s": round(args.count / elapsed, 1),
            "cpu_seconds": round(cpu, 3),
            "interactions_per_cpu_s": round(args.count / cpu, 1),
            "load_average_1m": os.getloadavg()[0],
            "poll": latency_summary_ms(poll_seconds),
        },
    }


def _write_profile(store: str, text: str) -> None:
    path = Path(__file__).resolve().parent / "results" / f"router_profile_{store}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"profile written to {path}")


def _profiler(enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return nullcontext()
    from pyinstrument import Profiler  # a dev extra: only needed for --profile

    return Profiler(async_mode="disabled")


async def main(args: argparse.Namespace) -> None:
    servers = "" if args.decide_only else bootstrap_servers()
    results = []
    stores: list[tuple[str, AbstractContextManager[PostgresServer | None]]] = [
        ("sqlite", nullcontext()),
        ("postgresql", postgres_for_tests()),
    ]
    for name, server_context in stores:
        if args.store not in ("all", name):
            continue
        # The run's folder (the SQLite store, ~100 MB after a run, and the router's state)
        # goes when the run ends, unless --keep-store.
        with (
            server_context as server,
            scratch_folder("router-bench-", keep=args.keep_store) as folder,
        ):
            url = (
                server.create_database()
                if server is not None
                else f"sqlite+aiosqlite:///{folder}/router.db"
            )
            started = time.perf_counter()
            if args.decide_only:
                figures = await decide_only(name, url, args)
            else:
                figures = await bench_store(
                    name, url, args, servers, folder, database_pid=postmaster_pid(server)
                )
            figures["wall_seconds"] = round(time.perf_counter() - started, 1)
            print(f"{name}: {figures}")
            print_hops(name, figures)
            results.append(figures)
    write_result(
        "router_decide" if args.decide_only else "router_throughput",
        {"target": "≥5,000/s; p99 < 100 ms at 1,000/s", "runs": results},
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000, help="interactions for throughput")
    parser.add_argument(
        "--customers",
        type=int,
        default=None,
        help="distinct customers (default: two thirds of --count, 2,000 at 3,000)",
    )
    parser.add_argument(
        "--rates",
        type=lambda s: [int(r) for r in s.split(",")],
        default=[250, 500, 1000],
        help="publish rates for the latency phases, e.g. 250,500,1000",
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each latency phase")
    parser.add_argument(
        "--run-on",
        type=float,
        default=0.5,
        help="seconds the stream keeps its rate after each measured window, so that the "
        "window's last interactions are routed as part of a running stream: when a stream "
        "stops, its last fetch waits ROUTER_CONSUMER_FETCH_MAX_WAIT_MS for bytes that never "
        "come (the run-on's own latencies are reported apart: after_window)",
    )
    parser.add_argument("--budget", type=float, default=15.0, help="max seconds to wait per phase")
    parser.add_argument("--store", choices=["all", "sqlite", "postgresql"], default="all")
    parser.add_argument(
        "--decide-only", action="store_true", help="route_batch in-process: no broker"
    )
    parser.add_argument("--batch", type=int, default=500, help="poll size for --decide-only")
    parser.add_argument("--profile", action="store_true", help="pyinstrument (--decide-only)")
    parser.add_argument(
        "--relay-interval",
        type=float,
        default=RELAY_INTERVAL_S,
        help="ROUTER_RELAY_INTERVAL_S (default: the router's)",
    )
    parser.add_argument(
        "--analyze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="PostgreSQL: ANALYZE after the throughput phase (see ``analyze``)",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="run the router as bench.router_trace: p50/p99 of each hop of the latency phases",
    )
    parser.add_argument(
        "--bench-gc",
        action="store_true",
        help="leave this process's garbage collector on during the latency phases (as "
        "before; its pauses then show as latency: bench.common.bench_gc_paused)",
    )
    parser.add_argument(
        "--keep-store",
        action="store_true",
        help="keep the run's temporary folder (the SQLite store, the router's state and "
        "trace) and print its path; a PostgreSQL store goes with its private server",
    )
    args = parser.parse_args()
    if args.customers is None:
        args.customers = customers_for(args.count)
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

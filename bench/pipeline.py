"""Full pipeline: chat webhook → routing decision → agent notification mail received.

The system runs as processes (``tools.testing.system.LocalSystem``):
chat_ingest, router (SQLite), notifier, plus phone_log and email_ingest idle;
an SMTP server in a process of its own (``bench.smtp_sink``: compiled when built, else
aiosmtpd; ``--smtp-sink``) receives the
mails. A load generator POSTs signed web-chat messages at a fixed rate (open
loop): the pacer (``bench/pacer``, compiled by ``python -m bench.pacer install``;
about half of vegeta's CPU a request) when it is built, else vegeta (compiled,
``python -m bench.vegeta install``) when it is, else this script's asyncio/httpx
client in its own process (``--generator``; the output says which ran). Every
message is a new visitor whose name carries a run-unique id, so each one opens a
conversation, is assigned to an online agent and produces exactly one
``agent_assigned`` mail naming that visitor. Latency =
mail received by the SMTP server minus the POST's scheduled send time (same
clock, same machine).

Every run is a system of its own: run-unique topics (the assistant topic too)
and consumer groups, so a test or another bench sharing the broker cannot join
its groups or feed its consumers. The services' effective settings that shape
throughput are written to the result (``system``).

``idle_cpu``: the same processes warmed up with nothing sent (``--idle-seconds``),
the floor under every rate. Per rate, ``cpu`` (``bench.cpu_accounting``):
CPU-seconds of every service, the
Kafka broker, the SMTP sink, the load generator and this process from the first
POST until the last mail (or the end of the drain), per 1,000 acknowledged
requests and as a share of all cores; ``other`` is what the machine spent
outside them.

Peak memory: VmHWM (and the last VmRSS) of every service process from
``/proc/<pid>/status`` at the end of the run.

``--profile DIR`` runs a second, short pass with chat_ingest, router and
notifier under pyinstrument and writes one pstats profile per service to DIR;
it starts after the measured system has stopped, so it never overlaps a
measured phase.

    python -m bench.pipeline [--rates 25,100,500:60] [--seconds 10] [--drain 60]
                             [--generator auto|pacer|vegeta|python] [--profile DIR]

``--rates`` takes events/s, each optionally with its own sending time
(``500:60`` = 500/s sustained for 60 s, the issue's target run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx

from bench import pacer, vegeta
from bench.common import (
    RESULTS,
    bench_gc_paused,
    bootstrap_servers,
    delete_run_topics,
    latency_summary_ms,
    write_result,
)
from bench.cpu_accounting import CpuMeter, broker_pid, cpu_split, status_mb
from bench.pipeline_hops import phase_hops
from bench.smtp_sink import KINDS, SmtpSink
from libs.common.kafka.admin import create_topics
from libs.common.settings import KafkaSettings, TopicSettings
from services.router.settings import RouterSettings
from tools.services import service as service_spec
from tools.testing.system import SERVICE_ORDER, LocalSystem, free_port, run_topics

TARGET_P99_MS = 500
TARGET_RATE = 500
PROFILE_RATE = 100  # events/s of the profiled pass
SECRET = "pipeline-bench-secret-0123456789"  # noqa: S105 - a bench-only signing key
INTEGRATION = "pbench"
AGENTS = 6
LOADED = ("chat_ingest", "router", "notifier")
PROFILER = [sys.executable, "-m", "bench.profiled"]  # + report path, service module
WEBCHAT_PATH = f"/webhooks/webchat/{INTEGRATION}/messages"
GENERATORS = ("auto", "pacer", "vegeta", "python")
IDLE_S = 5.0  # the idle phase after the warm-up
RELAY_INTERVAL_DEFAULT_S = RouterSettings.model_fields["relay_interval_s"].default
#: The settings that shape the pipeline's throughput, per service (field names).
SHAPING = {
    "chat_ingest": ("workers", "log_level", "publish_linger_ms"),
    "router": (
        "consumer_max_batch",
        "consumer_fetch_max_wait_ms",
        "relay_interval_s",
        "scheduler_interval_s",
        "consumer_group",
        "assistant_consumer_group",
        "log_level",
    ),
    "notifier": (
        "smtp_pool_size",
        "consumer_fetch_max_wait_ms",
        "consumer_fetch_min_bytes",
        "group_id",
        "log_level",
    ),
    "phone_log": ("workers",),
    "email_ingest": ("mailboxes",),
}
#: KAFKA_* fields every service reads alike: each consumer hop may hold a fetch up to
#: fetch_max_wait_ms for fetch_min_bytes, each producer lingers linger_ms (chat_ingest:
#: its publish_linger_ms instead).
KAFKA_SHAPING = ("fetch_max_wait_ms", "fetch_min_bytes", "linger_ms")
KAFKA_KEY = "kafka (all services)"


# --- SMTP side (bench.smtp_sink: its own process) ---------------------------------


def received_ids(arrivals: list[tuple[float, bytes]], run: str) -> dict[int, float]:
    """seq → first arrival time of the mail naming visitor ``run``-seq."""
    pattern = re.compile(rf"pb{run}x(\d+)")
    seen: dict[int, float] = {}
    for at, raw in arrivals:
        message = message_from_bytes(raw, policy=policy.default)
        text = message.get_body(("plain",))
        found = pattern.search(text.get_content() if text is not None else "")
        if found:
            seq = int(found.group(1))
            seen[seq] = min(at, seen.get(seq, at))
    return seen


# --- load generators ------------------------------------------------------------------


@dataclass(frozen=True)
class SignedPost:
    """One pre-signed web-chat POST (the shape ``bench.vegeta.targets_file`` reads)."""

    path: str
    headers: dict[str, str]
    content: bytes
    method: str = "POST"


def webchat_request(run: str, seq: int) -> tuple[bytes, dict[str, str]]:
    from libs.common.webhooks.signatures import hmac_sha256_hex

    body = json.dumps(
        {
            "message_id": f"pb-{run}-{seq}",
            "conversation_id": f"pb-{run}-{seq}",
            "visitor": {"id": f"v-{run}-{seq}", "name": f"pb{run}x{seq}", "locale": "en-US"},
            "text": f"Hello, I cannot log in to my account (ticket {seq})",
            "sent_at": "2026-11-23T09:30:00+09:00",
        },
        separators=(",", ":"),
    ).encode()
    return body, {
        "Content-Type": "application/json",
        "X-Omnidesk-Signature": "sha256=" + hmac_sha256_hex(SECRET, body),
    }


def load_generator(  # type: ignore[no-untyped-def]
    base_url: str, run: str, first: int, rate: float, seconds: float, out: str, bench_gc: bool
):
    """Open loop: request n is due at start + n/rate; its send time is that due time.

    Stops by itself: 30 s after the last due time whatever is unanswered is
    abandoned, and the figures so far (with this process's CPU-seconds since
    the first request) are written in any case.

    Its collector is paused while it sends (``bench_gc_paused``; ``bench_gc``: left on,
    as before): the process imports this module's graph (~53,000 objects), so a full
    collection stalls the pacer for tens of ms and the requests due meanwhile go out
    late, their lateness counted as the system's latency.
    """
    sent: dict[int, float] = {}
    statuses: dict[str, int] = {}
    lags: list[float] = []
    cpu_started = time.process_time()

    async def one(client: httpx.AsyncClient, seq: int, due: float) -> None:
        lags.append(time.time() - due)  # the generator's own delay, counted against the system
        body, headers = webchat_request(run, seq)
        try:
            response = await client.post(WEBCHAT_PATH, content=body, headers=headers)
            key = str(response.status_code)
        except httpx.HTTPError as exc:
            key = type(exc).__name__
        statuses[key] = statuses.get(key, 0) + 1
        if key.startswith("2"):
            sent[seq] = due

    async def drive() -> None:
        nonlocal cpu_started
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
            start = time.time() + 0.2
            cpu_started = time.process_time()
            tasks = []
            for n in range(int(rate * seconds)):
                due = start + n / rate
                delay = due - time.time()
                await asyncio.sleep(max(0.0, delay))
                tasks.append(asyncio.create_task(one(client, first + n, due)))
            _, late = await asyncio.wait(tasks, timeout=30) if tasks else (set(), set())
            for task in late:
                task.cancel()
            statuses["unanswered"] = len(late)

    async def bounded() -> None:
        try:
            async with asyncio.timeout(seconds + 60):
                await drive()
        except TimeoutError:
            statuses["generator_timeout"] = 1

    try:
        with nullcontext() if bench_gc else bench_gc_paused():
            asyncio.run(bounded())
    finally:
        Path(out).write_text(
            json.dumps(
                {
                    "generator": "python",
                    "sent": {str(k): v for k, v in sent.items()},
                    "statuses": statuses,
                    "generator_lag": latency_summary_ms(lags) if lags else None,
                    "generator_cpu_s": round(time.process_time() - cpu_started, 3),
                }
            )
        )


def run_python_load(
    base_url: str, run: str, first: int, rate: float, seconds: float, *, bench_gc: bool = False
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    process = mp.get_context("spawn").Process(
        target=load_generator, args=(base_url, run, first, rate, seconds, out, bench_gc)
    )
    try:
        process.start()
        process.join(seconds + 120)
        if process.is_alive():
            process.kill()
            raise RuntimeError("load generator did not finish")
        return json.loads(Path(out).read_text())
    finally:
        Path(out).unlink(missing_ok=True)


_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def vegeta_time(stamp: str) -> float:
    """vegeta's RFC 3339 timestamp (nanoseconds, ``Z``) as epoch seconds."""
    return datetime.fromisoformat(_FRACTION.sub(r"\1", stamp).replace("Z", "+00:00")).timestamp()


def vegeta_outcome(
    results: list[dict[str, Any]], first: int, count: int, rate: float
) -> dict[str, Any]:
    """vegeta's per-request results in the shape of the Python generator's output.

    The n-th hit by ``seq`` that found a target is request n (``bench.vegeta.attack_each``);
    it was due at the first hit's send time + n/rate (the pacer's schedule), and its lag
    behind that schedule is the generator's. Requests without a result were never sent.
    """
    ordered = sorted(results, key=lambda r: r.get("seq", 0))
    hits = [r for r in ordered if r.get("error") != vegeta.NO_TARGETS][:count]
    if not hits:
        return {"sent": {}, "statuses": {"not_sent": count}, "generator_lag": None}
    start = min(vegeta_time(hit["timestamp"]) - n / rate for n, hit in enumerate(hits))
    return _outcome([(hit, start + n / rate) for n, hit in enumerate(hits)], first, count)


def _outcome(hits: list[tuple[dict[str, Any], float]], first: int, count: int) -> dict[str, Any]:
    """A compiled generator's results, request n's with the time it was due (epoch
    seconds), in the shape of the Python generator's output."""
    sent: dict[str, float] = {}
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    lags = []
    for n, (hit, due) in enumerate(hits):
        lags.append(vegeta_time(hit["timestamp"]) - due)
        code = hit.get("code", 0)
        key = str(code) if code else "error"
        statuses[key] = statuses.get(key, 0) + 1
        if 200 <= code < 300:
            sent[str(first + n)] = due
        elif hit.get("error"):  # what the generator saw: a reset, a timeout, a refused dial
            errors[hit["error"]] = errors.get(hit["error"], 0) + 1
    statuses["not_sent"] = count - len(hits)
    return {
        "sent": sent,
        "statuses": statuses,
        "errors": errors,
        "generator_lag": latency_summary_ms(lags),
    }


def signed_posts(run: str, first: int, count: int) -> list[SignedPost]:
    """vegeta's targets, signed before the phase (the Python generator signs as it goes)."""
    posts = []
    for n in range(count):
        body, headers = webchat_request(run, first + n)
        posts.append(SignedPost(WEBCHAT_PATH, headers, body))
    return posts


def pacer_outcome(results: list[dict[str, Any]], first: int, count: int) -> dict[str, Any]:
    """The pacer's per-request results (``bench.pacer``, in request order, each with the
    time it was due) in the shape of the Python generator's output."""
    return _outcome([(hit, vegeta_time(hit["due"])) for hit in results[:count]], first, count)


def run_pacer_load(
    base_url: str, posts: list[SignedPost], first: int, rate: float
) -> dict[str, Any]:
    results, cpu_s = pacer.attack_each(posts, base_url, rate=rate)
    outcome = pacer_outcome(results, first, len(posts))
    return {"generator": "pacer", **outcome, "generator_cpu_s": round(cpu_s, 3)}


def run_vegeta_load(
    base_url: str, posts: list[SignedPost], first: int, rate: float, seconds: float
) -> dict[str, Any]:
    # the attack ends when the requests run out; the duration only bounds a stuck pacer
    bound = 2 * seconds + 30
    results, cpu_s = vegeta.attack_each(posts, base_url, duration=bound, rate=rate)
    outcome = vegeta_outcome(results, first, len(posts), rate)
    return {"generator": "vegeta", **outcome, "generator_cpu_s": round(cpu_s, 3)}


def choose_generator(wanted: str) -> str:
    if wanted == "auto":
        if pacer.find() is not None:
            return "pacer"
        return "vegeta" if vegeta.find() is not None else "python"
    if wanted == "pacer" and pacer.find() is None:
        raise SystemExit("--generator pacer: not built (python -m bench.pacer install)")
    if wanted == "vegeta" and vegeta.find() is None:
        raise SystemExit("--generator vegeta: not built (python -m bench.vegeta install)")
    return wanted


# --- the system --------------------------------------------------------------------


def agents_file(folder: Path) -> Path:
    lines = ["agents:"]
    for n in range(AGENTS):
        lines += [
            f"  - id: bench-{n}",
            f"    name: Bench Agent {n}",
            f"    email: bench-{n}@desk.example",
            "    locale: en-US",
            "    queues: [general, en-support, ko-support]",
            "    skills: [en, ko]",
            "    capacity: {chat: 1000000, email: 1000000, phone: 1000000}",
            "    status: online",  # also online after a restart (bench.backlog_recovery)
        ]
    path = folder / "agents.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def bench_topics() -> TopicSettings:
    """The run's own topics, the assistant's included: the router's assistant consumer
    would otherwise read the broker-wide ``support.assistant.v1`` in a group shared with
    every other router on the broker (tests, other benches)."""
    topics = run_topics("pb")
    run = topics.interactions.removesuffix(".interactions")
    return topics.model_copy(update={"assistant": f"{run}.assistant"})


def build_system(home: Path, smtp_port: int, bootstrap: str) -> LocalSystem:
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topics=bench_topics())
    asyncio.run(create_topics(kafka))
    integration = {"id": INTEGRATION, "provider": "webchat", "secret": SECRET}
    integration["routing"] = {"queue": "general"}  # type: ignore[assignment]
    # Consumer groups of this run only: a group shared with a test's router on the same
    # broker would rebalance whenever that test starts or stops one.
    group = kafka.topics.interactions.removesuffix(".interactions")
    return LocalSystem(
        home=home,
        kafka=kafka,
        smtp_port=smtp_port,
        extra_env={
            "router": {
                "ROUTER_AGENTS_PATH": str(agents_file(home)),
                "ROUTER_LOG_LEVEL": "WARNING",
                "ROUTER_SCHEDULER_INTERVAL_S": "1.0",
                # the operator's default, not LocalSystem's test value (0.05 s): a commit
                # wakes the relay at once, the interval only paces its idle polls
                "ROUTER_RELAY_INTERVAL_S": str(RELAY_INTERVAL_DEFAULT_S),
                "ROUTER_CONSUMER_GROUP": f"{group}.router",
                "ROUTER_OUTCOME_CONSUMER_GROUP": f"{group}.router-outcomes",
                "ROUTER_ASSISTANT_CONSUMER_GROUP": f"{group}.router-assistant",
            },
            "notifier": {
                "NOTIFIER_LOG_LEVEL": "WARNING",
                "NOTIFIER_GROUP_ID": f"{group}.notifier",
                # the visitor's acknowledgement goes to the web-chat outbox, as in production
                # (without the integration every acknowledgement failed as "not configured")
                "NOTIFIER_INTEGRATIONS": json.dumps([integration]),
                "NOTIFIER_WEBCHAT_PORT": str(free_port()),
            },
            "chat_ingest": {
                "CHAT_INGEST_INTEGRATIONS": json.dumps([integration]),
                "CHAT_INGEST_LOG_LEVEL": "WARNING",
            },
            "phone_log": {"PHONE_LOG_LOG_LEVEL": "WARNING"},
            "email_ingest": {"EMAIL_INGEST_LOG_LEVEL": "WARNING"},
        },
    )


def start(system: LocalSystem, profile_dir: Path | None) -> None:
    """Start every service; with ``profile_dir`` the loaded ones run under pyinstrument."""
    for name in SERVICE_ORDER:
        if profile_dir is None or name not in LOADED:
            system.start(name, wait=False)
        else:
            start_profiled(system, name, profile_dir / f"{name}.pstats")
    for name in SERVICE_ORDER:
        system.wait_ready(name, timeout=120)


def start_profiled(system: LocalSystem, name: str, report: Path) -> None:
    """Start one service under pyinstrument (pstats to ``report`` when it stops, see stop)."""
    service = system.services[name]
    system.home.mkdir(parents=True, exist_ok=True)
    with open(service.log_path, "ab") as log:
        service.proc = subprocess.Popen(
            [*PROFILER, str(report), f"services.{name}"],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **service.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def effective_settings(system: LocalSystem) -> dict[str, dict[str, Any]]:
    """What each service runs with for the fields in ``SHAPING``: the environment the
    bench gives it, else the one it inherits from this process, else the field's default
    (read from the settings class); and, under ``KAFKA_KEY``, the ``KAFKA_SHAPING`` fields
    (the services inherit this process's environment, so a run with e.g.
    ``KAFKA_FETCH_MAX_WAIT_MS=5`` or ``ROUTER_CONSUMER_FETCH_MAX_WAIT_MS=200`` says so)."""
    kafka_fields = KafkaSettings.model_fields
    found: dict[str, dict[str, Any]] = {
        KAFKA_KEY: {
            field: os.environ.get("KAFKA_" + field.upper(), _plain(kafka_fields[field].default))
            for field in KAFKA_SHAPING
        }
    }
    for name, process in system.services.items():
        fields = service_spec(name).settings().model_fields
        prefix = name.upper() + "_"
        found[name] = {
            # as the service is spawned: its own environment over the bench's inherited one
            field: process.env.get(
                prefix + field.upper(),
                os.environ.get(
                    prefix + field.upper(),
                    _plain(fields[field].get_default(call_default_factory=True)),
                ),
            )
            for field in SHAPING.get(name, ())
            if field in fields
        }
    return found


def _plain(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | list | None) else str(value)


def agents_online(system: LocalSystem) -> None:
    headers = {"X-API-Key": system.admin_key}
    base = system.url("router")
    for n in range(AGENTS):
        response = httpx.put(
            f"{base}/agents/bench-{n}/status", json={"status": "online"}, headers=headers
        )
        response.raise_for_status()


def memory(pid: int) -> dict[str, float]:
    """VmHWM (peak RSS) and VmRSS of a process, in MB."""
    values = status_mb(pid, "VmHWM", "VmRSS") or {}
    return {"peak_rss_mb": values.get("VmHWM", 0.0), "rss_mb": values.get("VmRSS", 0.0)}


def service_pids(system: LocalSystem) -> dict[str, int]:
    """The Python process of each service (under pyinstrument it is the same process)."""
    return {name: s.proc.pid for name, s in system.services.items() if s.proc and s.running()}


def keep_logs(system: LocalSystem, label: str) -> None:
    """Copy each service's log next to the results (the system's home is temporary)."""
    folder = RESULTS / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    for name, service in system.services.items():
        if service.log_path.exists():
            shutil.copyfile(service.log_path, folder / f"{label}-{name}.log")


def stop(system: LocalSystem) -> None:
    for name in reversed(SERVICE_ORDER):
        service = system.services[name]
        if service.running():
            assert service.proc is not None
            # uvicorn re-raises SIGTERM after its shutdown, which would end pyinstrument
            # before it writes; SIGINT ends in KeyboardInterrupt, which it handles.
            profiled = service.proc.args[: len(PROFILER)] == PROFILER
            service.proc.send_signal(signal.SIGINT if profiled else signal.SIGTERM)
    for service in system.services.values():
        if service.proc is not None:
            try:
                service.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                service.proc.kill()
                service.proc.wait()


# --- one measured rate ---------------------------------------------------------------


def meter(system: LocalSystem, sink: SmtpSink, bootstrap: str) -> CpuMeter:
    """Every process of the run that is alive for a whole phase (the generator is not:
    its own CPU comes from the generator). This process counts alone, not its tree."""
    pids: dict[str, int | None] = dict(service_pids(system))
    pids["kafka broker"] = broker_pid(bootstrap)
    pids["smtp sink"] = sink.pid
    return CpuMeter(pids, alone={"bench": os.getpid()})


def measure(
    system: LocalSystem,
    sink: SmtpSink,
    cpu: CpuMeter | None,
    generator: str,
    run: str,
    first: int,
    rate: float,
    seconds: float,
    drain: float,
    *,
    bench_gc: bool = False,
) -> dict[str, Any]:
    """One fixed-rate phase: load, then wait for the mails; CPU from the first POST until
    the last mail arrived or the drain ended.

    Latency = the sink's arrival time (``bench.smtp_sink``, a process of its own, ~22,000
    objects: its full collection ~4 ms) minus the generator's due time (vegeta, Go; or
    the Python generator, whose collector is paused while it sends unless ``bench_gc``).
    This process only waits and subtracts: its own collector times nothing."""
    sink.take()
    counted_before = sink.count()  # the sink's count runs on across phases
    base_url = system.url("chat_ingest")
    compiled = generator in ("pacer", "vegeta")
    posts = signed_posts(run, first, int(rate * seconds)) if compiled else []
    before = cpu.sample() if cpu is not None else None
    if generator == "pacer":
        load = run_pacer_load(base_url, posts, first, rate)
    elif generator == "vegeta":
        load = run_vegeta_load(base_url, posts, first, rate, seconds)
    else:
        load = run_python_load(base_url, run, first, rate, seconds, bench_gc=bench_gc)
    sent = {int(k): v for k, v in load["sent"].items()}
    deadline = time.monotonic() + drain
    while sink.count() - counted_before < len(sent) and time.monotonic() < deadline:
        time.sleep(0.25)
    after = cpu.sample() if cpu is not None else None
    arrivals = sink.take()
    received = received_ids(arrivals, run)
    latencies = [received[seq] - due for seq, due in sent.items() if seq in received]
    figures: dict[str, Any] = {
        "rate_per_s": rate,
        "seconds": seconds,
        "generator": load.get("generator"),
        "acked_2xx": len(sent),
        "statuses": load["statuses"],
        "errors": load.get("errors", {}),
        "generator_lag": load.get("generator_lag"),
        "mails_received": len(arrivals),
        "delivered": len(latencies),
        "not_delivered_within_drain": len(sent) - len(latencies),
        "drain_s": drain,
        "latency": latency_summary_ms(latencies),
        # for the hops (bench.pipeline_hops), read once all phases ran; not written out
        "_instants": (sent, received),
    }
    if before is not None and after is not None:
        figures["cpu"] = cpu_split(
            before,
            after,
            messages=len(sent),
            cpus=os.cpu_count() or 1,
            extra={f"load generator ({load.get('generator')})": load.get("generator_cpu_s", 0.0)},
        )
        figures["cpu"]["load_average_1m"] = os.getloadavg()[0]
    return figures


def _written(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in figures.items() if k != "_instants"}


def add_hops(kafka: KafkaSettings, run: str, runs: list[dict[str, Any]]) -> None:
    """Each phase's latency split into hops (``bench.pipeline_hops``), from the run's
    topics once every phase is over; a failure to read them is noted, not fatal."""
    measured = [r for r in runs if "_instants" in r]
    try:
        hops = phase_hops(kafka, run, [r.pop("_instants") for r in measured])
    except Exception as exc:  # the phases' figures stand without their hops
        for r in measured:
            r.pop("_instants", None)
            r["hops"] = {"error": repr(exc)}
        return
    for r, split in zip(measured, hops, strict=True):
        r["hops"] = split


def measure_idle(cpu: CpuMeter, seconds: float) -> dict[str, Any] | None:
    """The system warmed up and nothing sent: what each process burns on its own (polls,
    timers, the relay and scheduler loops) — the floor under every rate's figures."""
    if seconds <= 0:
        return None
    before = cpu.sample()
    time.sleep(seconds)
    split = cpu_split(before, cpu.sample(), messages=0, cpus=os.cpu_count() or 1)
    split["load_average_1m"] = os.getloadavg()[0]
    return split


def run(
    rates: list[tuple[float, float]],
    drain: float,
    profile: Path | None,
    generator: str = "auto",
    idle_seconds: float = IDLE_S,
    *,
    bench_gc: bool = False,
    smtp_sink: str | None = None,
) -> dict[str, Any]:
    bootstrap = bootstrap_servers()
    chosen = choose_generator(generator)
    with SmtpSink(keep=True, kind=smtp_sink) as sink:
        result = _run_measured(
            sink, bootstrap, rates, drain, chosen, idle_seconds, bench_gc=bench_gc
        )
        if profile is not None:
            result["profile"] = _run_profiled(sink, bootstrap, PROFILE_RATE, profile, chosen)
        return result


def _run_measured(
    sink: SmtpSink,
    bootstrap: str,
    rates: list[tuple[float, float]],
    drain: float,
    generator: str,
    idle_seconds: float,
    *,
    bench_gc: bool = False,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="omnidesk-pipeline-") as home:
        system = build_system(Path(home), sink.port, bootstrap)
        run_id = uuid.uuid4().hex[:8]
        try:
            start(system, None)
            agents_online(system)
            pids = service_pids(system)
            cpu = meter(system, sink, bootstrap)
            # warm-up: imports, first connections
            measure(system, sink, None, generator, run_id, 0, 10, 2, 60)
            idle = measure_idle(cpu, idle_seconds)
            runs = []
            for index, (rate, seconds) in enumerate(rates):
                first = (index + 1) * 1_000_000
                try:
                    runs.append(
                        measure(
                            system,
                            sink,
                            cpu,
                            generator,
                            run_id,
                            first,
                            rate,
                            seconds,
                            drain,
                            bench_gc=bench_gc,
                        )
                    )
                except (RuntimeError, subprocess.CalledProcessError) as exc:
                    runs.append({"rate_per_s": rate, "seconds": seconds, "error": str(exc)})
                print(json.dumps(_written(runs[-1])), flush=True)
            add_hops(system.kafka, run_id, runs)
            return {
                "target": f"p99 < {TARGET_P99_MS} ms at {TARGET_RATE} events/s",
                "path": "webchat POST → chat_ingest → Kafka → router (SQLite) → Kafka → "
                f"notifier → SMTP ({sink.kind} sink, its own process)",
                "smtp_sink": sink.kind,
                "generator": generator,
                "generator_gc": "on (--bench-gc)" if bench_gc else "paused while sending",
                "system": {
                    "services": effective_settings(system),
                    "topics": system.kafka.topics.model_dump(include={"interactions", "assistant"}),
                    "broker_pid_found": cpu.pids["kafka broker"] is not None,
                    "assistant": "not in this path: the pbench web-chat integration routes to "
                    "the general queue (policy 'chat'), not to an assistant-first policy; "
                    "the assistant service is not started",
                },
                "idle_cpu": idle,
                "runs": runs,
                "memory": {name: memory(pid) for name, pid in pids.items()},
                "memory_note": "phone_log and email_ingest (no mailboxes) run idle",
            }
        finally:
            stop(system)
            keep_logs(system, "pipeline")
            delete_run_topics(system.kafka)


def _run_profiled(
    sink: SmtpSink, bootstrap: str, rate: float, folder: Path, generator: str
) -> dict[str, Any]:
    """After the measured system has stopped: the same load with three services under
    pyinstrument (never overlapping a measured phase)."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="omnidesk-pipeline-prof-") as home:
        system = build_system(Path(home), sink.port, bootstrap)
        try:
            start(system, folder)
            agents_online(system)
            run_id = uuid.uuid4().hex[:8]
            measured = measure(system, sink, None, generator, run_id, 0, rate, 8, 30)
        finally:
            stop(system)
            keep_logs(system, "pipeline-profiled")
            delete_run_topics(system.kafka)
    return {
        "rate_per_s": rate,
        "seconds": 8,
        "delivered": measured["delivered"],
        "started_at": started,
        "ended_at": time.time(),
        "reports": sorted(str(p) for p in folder.glob("*.pstats")),
    }


def parse_rates(spec: str, seconds: float) -> list[tuple[float, float]]:
    """``"25,100,500:60"`` → [(25, seconds), (100, seconds), (500, 60)]: events/s[:seconds]."""
    rates = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        rate, _, length = item.partition(":")
        rates.append((float(rate), float(length) if length else seconds))
    if not rates or any(rate <= 0 or length <= 0 for rate, length in rates):
        raise ValueError(f"bad --rates {spec!r}: expected e.g. 25,100,500:60")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rates",
        default="25,100,500:60",
        help="Comma-separated events/s, each optionally :seconds (default --seconds).",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="Sending time per rate.")
    parser.add_argument("--drain", type=float, default=60.0, help="Max wait for the last mails.")
    parser.add_argument("--profile", type=Path, default=None, help="Folder for pyinstrument.")
    parser.add_argument(
        "--generator",
        choices=GENERATORS,
        default="auto",
        help="Load generator of the fixed-rate phases: the pacer (bench/pacer, compiled) "
        "when built, else vegeta (compiled) when built, else the Python (httpx) one; or "
        "force one.",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=IDLE_S,
        help="CPU of the warmed-up system with nothing sent, before the rates (0: skip).",
    )
    parser.add_argument(
        "--bench-gc",
        action="store_true",
        help="leave the Python load generator's garbage collector on while it sends (as "
        "before; its pauses then show as latency: bench.common.bench_gc_paused)",
    )
    parser.add_argument(
        "--smtp-sink",
        choices=KINDS,
        default=None,
        help="The SMTP sink: go (compiled) when built, else aiosmtpd; or force either "
        "(also BENCH_SMTP_SINK).",
    )
    args = parser.parse_args()
    try:
        rates = parse_rates(args.rates, args.seconds)
    except ValueError as exc:
        parser.error(str(exc))
    write_result(
        "pipeline",
        run(
            rates,
            args.drain,
            args.profile,
            args.generator,
            args.idle_seconds,
            bench_gc=args.bench_gc,
            smtp_sink=args.smtp_sink,
        ),
    )


if __name__ == "__main__":
    main()

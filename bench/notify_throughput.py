"""Notifier throughput: mails/s into a real SMTP server on loopback (the bench's sink).

    python -m bench.notify_throughput [--seconds 4] [--pool 4] [--batch 500]
        [--postgres] [--kafka] [--profile DIR] [--server process|thread]
        [--pools 4,8,16] [--backlog 20000] [--mix staff|backlog] [--depth 4]
        [--no-pipelining] [--eager-replies] [--loop uvloop|asyncio]
    python -m bench.notify_throughput --poll-cost [--postgres]

Figures, each run for a fixed time (whole run ≤ 25 s):

- ``pooled``: pre-built Korean/English mails through ``SmtpPool`` — a few
  persistent connections reused for every mail (what the notifier does);
- ``connect_per_mail``: the same mails, one new SMTP connection each
  (``aiosmtplib.send``) — the baseline connection reuse is measured against;
- ``handler``: the whole notice path as the service runs it — a poll of
  ``--batch`` routing events through ``handle_batch``: plan, one sent-log claim
  statement, render (Jinja2), write the mail, send through the pool, one record
  statement, outcomes (in memory, or on Kafka with ``--kafka``);
- ``handler_per_event``: the same path one event at a time (``handle``, one
  worker per pool connection) — what a poll falls back to, and what ran before
  the batch path.

The ``handler`` figure's ``handler_cpu_us_per_mail`` is the CPU inside ``handle_batch``
alone; its ``cpu_us_per_mail`` also counts the bench building each poll's routing events.

``--postgres`` keeps the sent-log in a throwaway PostgreSQL (Debian's server
binaries) instead of SQLite. ``--profile DIR`` writes a pyinstrument profile of
the ``handler`` figure (text) there. The load average at start and end is
recorded: figures from a busy machine are not release figures.

``--poll-cost`` measures only the notifier's fixed cost per poll and per mail, in
process (CPU seconds by ``time.process_time()`` over many repetitions: steady on a
busy machine, unlike rates): the sent-log statements of a poll of 1, 10 and 200
notices (claim, rate slots, finish) and building one mail (render and write).
Written to ``bench/results/notify_poll_cost.json``.

``--pools 4,8,16`` adds ``pool_sizes``: the ``pooled`` figure for each pool size.

``--depth N``: mails queued per connection (``NOTIFIER_SMTP_PIPELINE_DEPTH``); the
``pooled`` figure keeps ``pool_size * depth`` mails in flight, as the handler does.
With the server in a process of its own, ``pooled``, ``pool_sizes`` and ``handler``
also give ``server_cpu_us_per_mail``: on loopback every write costs the receiving
side too, so the transport's cost is both ends'. The server answers a pipelined
group's commands in one write, as Postfix's smtpd does
(``smtp_sink.PipelinedReplies``); ``--eager-replies``: aiosmtpd's write per reply.

``--backlog N`` adds ``backlog``: N routing events (new conversations mixed as
``bench.backlog_recovery``'s: see :func:`backlog_events`) are produced to a topic of
their own, then the notifier is started
as a process (``python -m services.notifier``, as an operator runs it) and its peak
RSS (``VmHWM``) is read once the server has received every mail: the memory target
(≤ 150 MB) is about such a backlog.

The SMTP server runs in a process of its own: a relay is another machine, and a
server thread in this process would take CPU and the GIL from the code measured. By
default (``--server auto``) it is the compiled sink when built (``bench.smtp_sink``,
``--server go``; ~1/13 of aiosmtpd's CPU per mail, so less of the two cores is taken
from the client measured), else aiosmtpd (``--server process``). Both the ceiling
(``pooled``) and the whole path (``handler``) use the same server kind, so their
ratio is honest. ``--server thread`` gives the historical figures (a floor). Results
are printed and written to ``bench/results/notify_throughput.json``. The server
offers PIPELINING (RFC 2920), as Postfix and Exim do; ``--no-pipelining`` measures
the one-write-per-command path a relay without it gets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import multiprocessing
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import aiosmtplib
from aiokafka.admin import NewTopic
from aiosmtpd.controller import Controller

from bench.common import bootstrap_servers, write_result
from bench.cpu_accounting import TICKS_PER_S, parse_stat, process_faults
from bench.smtp_sink import SmtpSink
from bench.smtp_sink import find as find_compiled_sink
from libs.common.cloudevents import CloudEvent
from libs.common.events import (
    Channel,
    ConversationSnapshot,
    InteractionRouted,
    NotificationOutcome,
    RoutingEvent,
)
from libs.common.gc_tuning import freeze_startup_objects
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.kafka.consumer import Delivery
from libs.common.kafka.producer import EventProducer
from services.notifier.bootstrap import build_composer, handler_config, use_event_loop
from services.notifier.decisions import MailNotice, PlanConfig, plan_notifications
from services.notifier.handler import KafkaOutcomePublisher, NotificationHandler, OutcomePublisher
from services.notifier.mail import OutgoingMail
from services.notifier.samples import sample_events, snapshot
from services.notifier.sentlog import Finish, SendInfo, SendKey, SentLog, Status
from services.notifier.settings import EventLoop, NotifierSettings
from services.notifier.smtp import SmtpConfig, SmtpPool
from services.notifier.smtp_sink import OffersPipelining, PipelinedRepliesController
from tools.testing.system import free_port, kafka_env, run_topics


class CountingHandler:
    def __init__(self, pipelining: bool = True) -> None:
        self.pipelining = pipelining
        self.count = 0
        self.bytes = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.count += 1
        self.bytes += len(envelope.content or b"")
        return "250 OK"

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:  # type: ignore[no-untyped-def]
        return await ehlo(self.pipelining, server, session, envelope, hostname, responses)


async def ehlo(pipelining: bool, *args: Any) -> list[str]:
    """The relay's EHLO: PIPELINING offered as Postfix/Exim offer it (``--no-pipelining``:
    aiosmtpd's own reply, without it)."""
    if pipelining:
        return await OffersPipelining().handle_EHLO(*args)
    session, hostname, responses = args[1], args[3], args[4]
    session.host_name = hostname
    return responses


SERVER_KINDS = {
    "thread": "aiosmtpd, same process, thread",
    "process": "aiosmtpd, a process of its own",
    "go": "the compiled sink (bench.smtp_sink, Go), a process of its own",
}


def choose_server(wanted: str, *, pipelining: bool, buffered_replies: bool) -> str:
    """``auto``: the compiled sink when it is built (its CPU per mail is ~1/13 of
    aiosmtpd's: less of the two cores taken from the client measured), else aiosmtpd in
    a process; aiosmtpd too for ``--no-pipelining`` / ``--eager-replies``, which only
    aiosmtpd's protocol varies."""
    if wanted != "auto":
        return wanted
    if pipelining and buffered_replies and find_compiled_sink() is not None:
        return "go"
    return "process"


class SmtpServer:
    """aiosmtpd on loopback: a thread of this process (the historical figures, which
    the server's own CPU and GIL share), or a process of its own, as a relay is."""

    def __init__(
        self, kind: str, pipelining: bool = True, *, buffered_replies: bool = True
    ) -> None:
        self.kind = kind
        self.pipelining = pipelining
        #: Replies to pipelined commands in one write, as Postfix's smtpd sends them
        #: (``smtp_sink.PipelinedReplies``); False: aiosmtpd's one write per reply.
        self.buffered_replies = buffered_replies
        self.port = free_port()
        self._ctx = multiprocessing.get_context("spawn")
        self._count = self._ctx.Value("q", 0)
        self._bytes = self._ctx.Value("q", 0)
        self._stop = self._ctx.Event()
        self._process: BaseProcess | None = None
        self._controller: Controller | None = None
        self._counting = CountingHandler(pipelining)
        self._sink: SmtpSink | None = None
        self._sink_count = 0

    def start(self) -> None:
        if self.kind == "go":
            if not (self.pipelining and self.buffered_replies):
                raise SystemExit(
                    "the compiled sink always offers PIPELINING and answers a "
                    "pipelined group in one write: --server process"
                )
            self._sink = SmtpSink(keep=False, kind="go").__enter__()
            self.port = self._sink.port
            return
        if self.kind == "thread":
            controller = _controller_class(self.buffered_replies)
            self._controller = controller(self._counting, hostname="127.0.0.1", port=self.port)
            self._controller.start()
            return
        args = (
            self.port,
            self._count,
            self._bytes,
            self._stop,
            self.pipelining,
            self.buffered_replies,
        )
        self._process = self._ctx.Process(target=serve_counting, args=args, daemon=True)
        self._process.start()
        deadline = time.monotonic() + 60  # a spawned interpreter's imports on a loaded machine
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("SMTP server process did not start")

    def stop(self) -> None:
        if self._sink is not None:
            self._sink_count = self._sink.count()
            self._sink.__exit__(None, None, None)
            self._sink = None
        if self._controller is not None:
            self._controller.stop()
        if self._process is not None:
            self._stop.set()
            self._process.join(10)

    def cpu_s(self) -> float | None:
        """CPU seconds the server process has used (``None``: a thread of this process)."""
        if self._sink is not None:
            return _cpu_s(self._sink.pid)
        return None if self._process is None else _cpu_s(self._process.pid or 0)

    @property
    def received(self) -> tuple[int, int | None]:
        """Mails and their bytes (``None``: the compiled sink counts no bytes)."""
        if self.kind == "go":
            return (self._sink.count() if self._sink is not None else self._sink_count), None
        if self.kind == "thread":
            return self._counting.count, self._counting.bytes
        return self._count.value, self._bytes.value


def _controller_class(buffered_replies: bool) -> type[Controller]:
    return PipelinedRepliesController if buffered_replies else Controller


def serve_counting(
    port: int, count: Any, size: Any, stop: Any, pipelining: bool, buffered_replies: bool
) -> None:
    """The SMTP server process: counts mails and bytes into shared values."""

    class Shared:
        async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
            with count.get_lock():
                count.value += 1
            with size.get_lock():
                size.value += len(envelope.content or b"")
            return "250 OK"

        async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:  # type: ignore[no-untyped-def]
            return await ehlo(pipelining, server, session, envelope, hostname, responses)

    controller = _controller_class(buffered_replies)(Shared(), hostname="127.0.0.1", port=port)
    controller.start()
    stop.wait()
    controller.stop()


class NoWebhooks:
    async def post(self, request: object) -> None:
        raise AssertionError("the benchmark configures no webhook targets")


class MemoryOutcomes:
    def __init__(self) -> None:
        self.count = 0

    async def publish(self, outcome: NotificationOutcome) -> None:
        self.count += 1

    async def publish_many(self, outcomes: list[NotificationOutcome]) -> None:
        self.count += len(outcomes)


class CountedOutcomes:
    """Kafka outcomes, counted."""

    def __init__(self, inner: KafkaOutcomePublisher) -> None:
        self._inner = inner
        self.count = 0

    async def publish(self, outcome: NotificationOutcome) -> None:
        await self._inner.publish(outcome)
        self.count += 1

    async def publish_many(self, outcomes: list[NotificationOutcome]) -> None:
        await self._inner.publish_many(outcomes)
        self.count += len(outcomes)


def sample_notices(settings: NotifierSettings) -> list[tuple[RoutingEvent, MailNotice]]:
    """Every sample notice in Korean and English, with the event that plans it."""
    plan = handler_config(settings).plan
    return [
        (event, notice)
        for locale in ("ko", "en")
        for event in sample_events(snapshot(language=locale)).values()
        for notice in plan_notifications(event, plan).mails
    ]


def build_mails(settings: NotifierSettings, count: int) -> list[OutgoingMail]:
    """Realistic mails: every sample notice in Korean and English, cycled."""
    composer = build_composer(settings)
    notices = sample_notices(settings)
    return [
        composer.mail(f"bench-{n}", event, notice)
        for n, (event, notice) in zip(range(count), itertools.cycle(notices), strict=False)
    ]


async def timed(seconds: float, send: Callable[[int], Awaitable[None]], workers: int) -> dict:
    counter = itertools.count()
    sent = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal sent
        while time.perf_counter() < deadline:
            await send(next(counter))
            sent += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    return {
        "mails": sent,
        "seconds": round(elapsed, 3),
        "mails_per_s": round(sent / elapsed, 1),
    } | cpu_per_mail(time.process_time() - cpu, sent)


def cpu_per_mail(cpu_s: float, mails: int) -> dict:
    """CPU time of this process (all threads) per mail: steadier than mails/s on a shared
    machine. With ``--server process`` it is the client's (notifier's) CPU alone."""
    return {"cpu_s": round(cpu_s, 3), "cpu_us_per_mail": round(cpu_s / max(mails, 1) * 1e6, 1)}


async def bench_pooled(
    config: SmtpConfig,
    mails: list[OutgoingMail],
    seconds: float,
    *,
    depth: int = 1,
    server: SmtpServer | None = None,
) -> dict:
    """``pool_size * depth`` senders at once, as the handler keeps them (its
    ``mail_concurrency``): ``depth`` mails queued per connection."""
    pool = SmtpPool(config)
    try:
        with ServerCost(server) as cost:
            result = await timed(
                seconds,
                lambda n: pool.send(mails[n % len(mails)]),
                workers=config.pool_size * depth,
            )
    finally:
        await pool.close()
    return (
        result
        | {"connections": pool.connections_opened, "pool_size": config.pool_size, "depth": depth}
        | cost.figures()
    )


class ServerCost:
    """The SMTP server process's CPU per mail it received over a figure (``{}`` for a
    server thread: its CPU is in this process's). Both ends' CPU per mail is what the
    transport costs the machine: on loopback each write also costs the receiver."""

    def __init__(self, server: SmtpServer | None) -> None:
        self._server = server
        self._cpu = self._mails = 0.0

    def __enter__(self) -> ServerCost:
        if self._server is not None and (cpu := self._server.cpu_s()) is not None:
            self._cpu, self._mails = cpu, self._server.received[0]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None and (cpu := self._server.cpu_s()) is not None:
            self._cpu, self._mails = cpu - self._cpu, self._server.received[0] - self._mails
        else:
            self._server = None

    def figures(self) -> dict:
        if self._server is None:
            return {}
        per_mail = self._cpu / max(self._mails, 1) * 1e6
        return {"server_cpu_us_per_mail": round(per_mail, 1)}


async def bench_connect_per_mail(
    config: SmtpConfig, mails: list[OutgoingMail], seconds: float
) -> dict:
    async def send(n: int) -> None:
        mail = mails[n % len(mails)]
        await aiosmtplib.send(
            mail.raw,
            sender=mail.sender,
            recipients=[mail.recipient],
            hostname=config.host,
            port=config.port,
            start_tls=False,
        )

    return await timed(seconds, send, workers=config.pool_size) | {"pool_size": config.pool_size}


def staff_events() -> list[RoutingEvent]:
    """Agent and supervisor notices (one mail each): no rate window, no customer flags."""
    events = list(sample_events(snapshot(language="ko")).values())
    return [
        e for e in events if e.ce_type in ("support.conversation.assigned", "support.sla.warning")
    ]


def poll(events: list[RoutingEvent], counter: Iterator[int], size: int) -> list[Delivery]:
    deliveries = []
    for _ in range(size):
        n = next(counter)
        event = events[n % len(events)]
        cloud = CloudEvent(id=f"bench-{n}", source="bench", type=event.ce_type, data=event)
        deliveries.append(Delivery(record=None, event=cloud))  # type: ignore[arg-type]
    return deliveries


@contextlib.asynccontextmanager
async def notice_path(
    settings: NotifierSettings, sentlog_url: str, kafka: bool
) -> AsyncIterator[tuple[NotificationHandler, MemoryOutcomes | CountedOutcomes, SentLog]]:
    sentlog = SentLog(sentlog_url)
    await sentlog.open()
    pool = SmtpPool(SmtpConfig.from_settings(settings))
    producer: EventProducer | None = None
    outcomes: MemoryOutcomes | CountedOutcomes = MemoryOutcomes()
    if kafka:
        topic = f"bench.notifications.{uuid.uuid4().hex[:8]}"
        await create_topics(settings.kafka, [NewTopic(topic, 3, 1)])
        producer = EventProducer(settings.kafka, client_id="bench-notifier")
        await producer.start()
        outcomes = CountedOutcomes(KafkaOutcomePublisher(producer, topic=topic, source="bench"))
    publisher: OutcomePublisher = outcomes
    handler = NotificationHandler(
        config=handler_config(settings),
        composer=build_composer(settings),
        sentlog=sentlog,
        smtp=pool,
        webhooks=NoWebhooks(),
        outcomes=publisher,
    )
    try:
        yield handler, outcomes, sentlog
    finally:
        if producer is not None:
            await producer.stop()
            await delete_topics(settings.kafka, [topic])
        await pool.close()
        await sentlog.close()


async def bench_handler(
    settings: NotifierSettings,
    seconds: float,
    *,
    sentlog_url: str,
    batch: int,
    kafka: bool = False,
    profile: bool = False,
    mix: str = "staff",
    server: SmtpServer | None = None,
) -> dict:
    """Polls of ``batch`` events through ``handle_batch``, one after another, as the runner does.

    ``mix="staff"``: agent and supervisor notices, one mail each. ``mix="backlog"``: the
    backlog's events that have something to tell (:func:`backlog_notice_events`: new
    conversations' acknowledgements — sent, held by the rate window or suppressed — and
    agents' mails), with the service's default rate window; then "mails" counts every
    outcome, suppressed ones included."""
    counter = itertools.count()
    if mix == "backlog":
        source = backlog_notice_events()
        default_window = NotifierSettings.model_fields["rate_window_minutes"].default
        settings = settings.model_copy(update={"rate_window_minutes": default_window})

        def next_poll(size: int) -> list[Delivery]:
            return poll(list(itertools.islice(source, size)), counter, size)
    else:
        events = staff_events()

        def next_poll(size: int) -> list[Delivery]:
            return poll(events, counter, size)

    async with notice_path(settings, sentlog_url, kafka) as (handler, outcomes, sentlog):
        await handler.handle_batch(next_poll(min(batch, 20)))  # warm up
        warm = outcomes.count
        profiler = _profiler(profile)
        started, cpu = time.perf_counter(), time.process_time()
        polls = 0
        in_handler_s = 0.0  # CPU inside handle_batch: without the bench's own event building
        with ServerCost(server) as server_cost:
            while time.perf_counter() - started < seconds:
                deliveries = next_poll(batch)
                poll_cpu = time.process_time()
                await handler.handle_batch(deliveries)
                in_handler_s += time.process_time() - poll_cpu
                polls += 1
        elapsed = time.perf_counter() - started
        cpu_s = time.process_time() - cpu
        profile_text = None
        if profiler is not None:
            profiler.stop()
            profile_text = profiler.output_text(unicode=False, color=False)
        sent = outcomes.count - warm
        recorded = await sentlog.count()
    return {
        "mails": sent,
        "seconds": round(elapsed, 3),
        "mails_per_s": round(sent / elapsed, 1),
        **cpu_per_mail(cpu_s, sent),
        # The notifier's own CPU per outcome: ``cpu_us_per_mail`` also counts building the
        # polls' routing events (pydantic models from ``samples``: ~10-25 % of it in the
        # backlog mix), which the service gets decoded from Kafka instead.
        "handler_cpu_us_per_mail": round(in_handler_s / max(sent, 1) * 1e6, 1),
        "outcomes": sent,
        "sentlog": sentlog_url.split("+", 1)[0],
        "batch": batch,
        "polls": polls,
        "sentlog_rows": recorded,
        "outcomes_to": "kafka" if kafka else "memory",
        "mix": mix,
        "mail_concurrency": handler_config(settings).mail_concurrency,
        **server_cost.figures(),
    } | ({"profile": profile_text} if profile_text else {})


async def bench_handler_per_event(
    settings: NotifierSettings, seconds: float, *, sentlog_url: str
) -> dict:
    events = staff_events()
    async with notice_path(settings, sentlog_url, kafka=False) as (handler, outcomes, _):
        result = await timed(
            seconds,
            lambda n: handler.handle(f"one-{n}", events[n % len(events)]),
            workers=settings.smtp_pool_size,
        )
    return result | {"outcomes": outcomes.count, "sentlog": sentlog_url.split("+", 1)[0]}


async def bench_poll_cost(settings: NotifierSettings, sentlog_url: str) -> dict:
    """CPU-µs per poll of the sent-log's statements, and per mail of building it."""
    sentlog = SentLog(sentlog_url)
    await sentlog.open()
    counter = itertools.count()
    now = datetime.now(UTC)
    info = SendInfo("support.conversation.assigned", "C-1", "email", "ko")

    def keys(size: int) -> list[SendKey]:
        return [SendKey(f"poll-{next(counter)}", "agent@desk.example", "t") for _ in range(size)]

    async def one_poll(size: int) -> dict[str, float]:
        batch = keys(size)
        spent: dict[str, float] = {}
        cpu = time.process_time()
        await sentlog.claim_many([(key, info) for key in batch], now=now)
        spent["claim"] = time.process_time() - cpu
        cpu = time.process_time()
        requests = [(f"{key.event_id}@customer.example", key.event_id) for key in batch]
        await sentlog.take_rate_slots(requests, now=now, cutoff=now - timedelta(minutes=5))
        spent["rate_slots"] = time.process_time() - cpu
        cpu = time.process_time()
        finishes = [Finish(key, Status.SENT, now, f"<{key.event_id}@x>") for key in batch]
        await sentlog.finish_many(finishes)
        spent["finish"] = time.process_time() - cpu
        return spent

    figures: dict[str, Any] = {"sentlog": sentlog_url.split("+", 1)[0]}
    try:
        for size, repeats in ((1, 400), (10, 200), (200, 20)):
            await one_poll(size)  # warm up: statement caches
            totals: dict[str, float] = {}
            for _ in range(repeats):
                for part, spent in (await one_poll(size)).items():
                    totals[part] = totals.get(part, 0.0) + spent
            per_poll = {part: round(total / repeats * 1e6, 1) for part, total in totals.items()}
            figures[f"poll_{size}_cpu_us"] = per_poll | {
                "total": round(sum(totals.values()) / repeats * 1e6, 1),
                "repeats": repeats,
            }
    finally:
        await sentlog.close()
    composer = build_composer(settings)
    notices = sample_notices(settings)
    for event, notice in notices:  # warm up: templates compiled, address checks cached
        composer.mail("warm-up", event, notice)
    repeats = 50
    cpu = time.process_time()
    for n in range(repeats):
        for event, notice in notices:
            composer.mail(f"cost-{n}", event, notice)
    spent = time.process_time() - cpu
    figures["mail_build_cpu_us"] = round(spent / (repeats * len(notices)) * 1e6, 1)
    figures["mail_build_notices"] = len(notices)
    return figures


def _profiler(wanted: bool):  # type: ignore[no-untyped-def]
    if not wanted:
        return None
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="enabled")
    profiler.start()
    return profiler


@contextlib.contextmanager
def sentlog_database(postgres: bool, state: Path) -> Iterator[str]:
    if not postgres:
        yield f"sqlite+aiosqlite:///{state / 'sent.db'}"
        return
    from tools.testing.postgres import postgres_for_tests

    with postgres_for_tests() as server:
        yield server.create_database("notify_bench")


# --- backlog: the notifier process's peak memory ------------------------------------------


def new_conversation_events(
    conversation: ConversationSnapshot, interaction_id: str
) -> tuple[RoutingEvent, ...]:
    """What the router emits for an interaction that opened ``conversation`` and had it
    assigned: ``interaction.routed`` (no notice), ``conversation.opened``,
    ``conversation.assigned``."""
    events = sample_events(conversation)
    opened = events["support.conversation.opened"]
    routed = InteractionRouted(
        conversation=conversation,
        occurred_at=opened.occurred_at,
        interaction_id=interaction_id,
        opened_conversation=True,
    )
    return routed, opened, events["support.conversation.assigned"]


def backlog_events(count: int) -> Iterator[RoutingEvent]:
    """``count`` routing events of new conversations, mixed as ``bench.backlog_recovery``'s
    backlog: half e-mail (the customer's acknowledgement and the agent's mail), half web
    chat without a reply path (its acknowledgement recorded suppressed, the agent's mail
    sent); 40 % of the interactions from repeat customers (their e-mail acknowledgement
    held by the rate window); each interaction's ``interaction.routed`` (no notice)."""
    produced = 0
    for n in itertools.count():
        customer = n if n % 5 >= 2 or n < 5 else (n * 7919) % (n // 2)  # 2 in 5 come back
        channel = Channel.EMAIL if n % 2 == 0 else Channel.CHAT
        conversation = snapshot(
            reference=f"C-{n}",
            language="ko" if n % 3 else "en",
            email=f"c{customer}@example.kr",
            channel=channel,
        )
        for event in new_conversation_events(conversation, f"i-{n}"):
            if produced == count:
                return
            produced += 1
            yield event


def backlog_notice_events() -> Iterator[RoutingEvent]:
    """:func:`backlog_events` without its ``interaction.routed`` events (the service's
    consumer commits those unread), without end: every conversation is new."""
    events = backlog_events(sys.maxsize)
    return (event for event in events if event.ce_type != InteractionRouted.ce_type)


def expected_mails(events: list[RoutingEvent], plan: PlanConfig) -> int:
    """Mails the backlog sends: planned mails, less acknowledgements the rate window holds
    (one per customer address while the backlog lasts)."""
    acknowledged: set[str] = set()
    count = 0
    for event in events:
        for mail in plan_notifications(event, plan).mails:
            if mail.rate_limited and mail.recipient in acknowledged:
                continue
            acknowledged.add(mail.recipient)
            count += 1
    return count


async def bench_backlog(settings: NotifierSettings, server: SmtpServer, count: int) -> dict:
    topics = run_topics("bench-notify-backlog")
    kafka = settings.kafka.model_copy(update={"topics": topics})
    plan = handler_config(settings).plan
    await create_topics(
        kafka,
        [NewTopic(name, topics.partitions, 1) for name in (topics.routing, topics.notifications)],
    )
    backlog = list(backlog_events(count))
    expected = expected_mails(backlog, plan)
    home = Path(tempfile.mkdtemp(prefix="notify-backlog-"))  # removed below, failed runs too
    try:
        async with EventProducer(kafka, client_id="bench-backlog") as producer:
            pending: list[Awaitable[Any]] = []
            for n, event in enumerate(backlog):
                cloud = CloudEvent(
                    id=f"backlog-{n}", source="bench", type=event.ce_type, data=event
                )
                key = event.conversation.conversation_id
                pending.append(producer.publish(topics.routing, cloud, key=key))
                if len(pending) >= 2000:
                    await asyncio.gather(*pending)
                    pending = []
            await asyncio.gather(*pending)
        before = server.received[0]
        env = {
            **os.environ,
            **kafka_env(kafka),
            "OMNIDESK_HOME": str(home),
            "NOTIFIER_STATE_DIR": str(home / "notifier"),
            "NOTIFIER_GROUP_ID": f"bench-backlog-{uuid.uuid4().hex[:8]}",
            "NOTIFIER_PROBE_PORT": str(free_port()),
            "NOTIFIER_WEBCHAT_PORT": "0",
            "NOTIFIER_SMTP_HOST": "127.0.0.1",
            "NOTIFIER_SMTP_PORT": str(server.port),
            "NOTIFIER_SMTP_POOL_SIZE": str(settings.smtp_pool_size),
            "NOTIFIER_MAIL_DOMAIN": settings.mail_domain,
            "NOTIFIER_FROM_ADDRESS": settings.from_address,
            "NOTIFIER_LOG_LEVEL": "WARNING",
        }
        log_path = home / "notifier.log"
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "services.notifier",
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        started = time.perf_counter()
        received = 0
        peak = 0.0
        # CPU of the notifier process: at its first mail (start-up and the first poll
        # done) and once every mail arrived; the difference is the backlog's work.
        first_mail_cpu: float | None = None
        first_mail_faults = 0
        first_mail_received = 0
        try:
            deadline = started + max(120.0, count / 100)
            while time.perf_counter() < deadline and process.returncode is None:
                await asyncio.sleep(0.1)
                peak = max(peak, _status_mb(process.pid, "VmHWM"))
                received = server.received[0] - before
                if first_mail_cpu is None and received:
                    first_mail_cpu, first_mail_received = _cpu_s(process.pid), received
                    first_mail_faults = process_faults(process.pid)
                if received >= expected:
                    break
            elapsed = time.perf_counter() - started
            end_cpu = _cpu_s(process.pid)
            end_faults = process_faults(process.pid)
            peak = max(peak, _status_mb(process.pid, "VmHWM"))
            rss = _status_mb(process.pid, "VmRSS")
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()
                    await process.wait()
        if received < expected:
            tail = log_path.read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(
                f"backlog: {received}/{expected} mails received:\n" + "\n".join(tail)
            )
    finally:
        await delete_topics(kafka, [topics.routing, topics.notifications])
        shutil.rmtree(home, ignore_errors=True)
    return {
        "routing_events": count,
        "mails": expected,
        "mix": "as bench.backlog_recovery: half e-mail, half web chat, 40 % repeat customers",
        "seconds": round(elapsed, 2),
        "mails_per_s": round(expected / elapsed, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_at_end_mb": round(rss, 1),
        # page faults from the first mail on: mappings made and dropped per poll
        "page_faults_per_1000_events": round((end_faults - first_mail_faults) / count * 1000),
        **_backlog_cpu(end_cpu, first_mail_cpu or 0.0, count, expected - first_mail_received),
    }


def _backlog_cpu(
    end_cpu: float, first_mail_cpu: float, events: int, mails_after_first: int
) -> dict[str, float]:
    """The notifier's CPU: all of it, and per 1,000 routing events and mails from its
    first mail on (start-up excluded; the events of the first poll, up to 500, are
    counted with the rest: within 3 % at 20,000 events)."""
    work = end_cpu - first_mail_cpu
    return {
        "cpu_s": round(end_cpu, 2),
        "cpu_s_at_first_mail": round(first_mail_cpu, 2),
        "cpu_s_per_1000_events": round(work / events * 1000, 3),
        "cpu_s_per_1000_mails": round(work / max(mails_after_first, 1) * 1000, 3),
    }


def _cpu_s(pid: int) -> float:
    """utime + stime of a process (``/proc/<pid>/stat``), in seconds; 0 once it is gone."""
    with contextlib.suppress(OSError):
        return parse_stat(Path(f"/proc/{pid}/stat").read_text()).own_ticks / TICKS_PER_S
    return 0.0


def _status_mb(pid: int, field: str) -> float:
    """A ``/proc/<pid>/status`` memory line (kB) in MB; 0 once the process is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


async def main(
    seconds: float,
    pool_size: int,
    *,
    batch: int = 500,
    postgres: bool = False,
    kafka: bool = False,
    profile: bool = False,
    server_kind: str = "process",
    pools: list[int] | None = None,
    backlog: int = 0,
    pipelining: bool = True,
    mix: str = "staff",
    depth: int | None = None,
    buffered_replies: bool = True,
) -> dict:
    load_start = os.getloadavg()
    freeze_startup_objects()  # as python -m services.notifier does after start-up
    server_kind = choose_server(
        server_kind, pipelining=pipelining, buffered_replies=buffered_replies
    )
    server = SmtpServer(server_kind, pipelining, buffered_replies=buffered_replies)
    server.start()
    port = server.port
    state = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    settings = NotifierSettings(
        smtp_port=port,
        smtp_pool_size=pool_size,
        state_dir=state,
        rate_window_minutes=0,
        mail_domain="desk.example",
        from_address="support@desk.example",
        **({} if depth is None else {"smtp_pipeline_depth": depth}),
    )
    depth = settings.smtp_pipeline_depth
    if kafka or backlog:
        broker = settings.kafka.model_copy(update={"bootstrap_servers": bootstrap_servers()})
        settings = settings.model_copy(update={"kafka": broker})
    extra: dict[str, Any] = {}
    try:
        config = SmtpConfig.from_settings(settings)
        mails = build_mails(settings, 100)
        pooled = await bench_pooled(config, mails, seconds, depth=depth, server=server)
        per_mail = await bench_connect_per_mail(config, mails, seconds / 2)
        with sentlog_database(postgres, state) as url:
            handler = await bench_handler(
                settings,
                seconds,
                sentlog_url=url,
                batch=batch,
                kafka=kafka,
                profile=profile,
                mix=mix,
                server=server,
            )
        fresh = Path(tempfile.mkdtemp(prefix="per-event-", dir=state))  # a sent-log of its own
        with sentlog_database(postgres, fresh) as url:
            per_event = await bench_handler_per_event(settings, seconds / 2, sentlog_url=url)
        if pools:
            extra["pool_sizes"] = {
                str(size): await bench_pooled(
                    dataclasses.replace(config, pool_size=size),
                    mails,
                    seconds / 2,
                    depth=depth,
                    server=server,
                )
                for size in pools
            }
        if backlog:
            extra["backlog"] = await bench_backlog(settings, server, backlog)
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)
    received, received_bytes = server.received
    return {
        "platform": platform.platform(),
        "server": f"{SERVER_KINDS[server_kind]} on 127.0.0.1",
        "server_kind": server_kind,
        "server_offers_pipelining": pipelining,
        "server_buffers_pipelined_replies": buffered_replies,
        "pipeline_depth": depth,
        "mail_bytes_avg": None
        if received_bytes is None
        else round(received_bytes / max(received, 1)),
        "pooled": pooled,
        "connect_per_mail": per_mail,
        "reuse_speedup": round(pooled["mails_per_s"] / max(per_mail["mails_per_s"], 0.1), 2),
        "handler": handler,
        "handler_per_event": per_event,
        "batch_speedup": round(handler["mails_per_s"] / max(per_event["mails_per_s"], 0.1), 2),
        "handler_share_of_pooled": round(
            handler["mails_per_s"] / max(pooled["mails_per_s"], 0.1), 3
        ),
        **extra,
        "server_received": received,
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }


async def poll_cost(*, postgres: bool) -> dict:
    load_start = os.getloadavg()
    state = Path(tempfile.mkdtemp(prefix="notify-cost-"))
    settings = NotifierSettings(
        state_dir=state, mail_domain="desk.example", from_address="support@desk.example"
    )
    try:
        with sentlog_database(postgres, state) as url:
            figures = await bench_poll_cost(settings, url)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return figures | {
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="Per figure (pooled, handler).")
    parser.add_argument("--pool", type=int, default=4, help="SMTP connections / workers.")
    parser.add_argument("--batch", type=int, default=500, help="Routing events per poll.")
    parser.add_argument("--postgres", action="store_true", help="Sent-log in PostgreSQL.")
    parser.add_argument("--kafka", action="store_true", help="Outcomes on Kafka (local broker).")
    parser.add_argument("--profile", type=Path, help="Write a pyinstrument profile here.")
    parser.add_argument(
        "--server",
        choices=["auto", *sorted(SERVER_KINDS)],
        default="auto",
        help="SMTP server in a process of its own (a relay is another machine): the "
        "compiled sink (go; auto: when built) or aiosmtpd (process); or aiosmtpd in a "
        "thread of this process (the historical figures).",
    )
    parser.add_argument(
        "--no-pipelining",
        action="store_true",
        help="The server does not offer PIPELINING (RFC 2920): one write per SMTP command.",
    )
    parser.add_argument(
        "--depth",
        type=int,
        help="Mails queued per SMTP connection (NOTIFIER_SMTP_PIPELINE_DEPTH; default: its"
        " default). 1: one mail per connection at a time, as before pipelining across mails.",
    )
    parser.add_argument(
        "--eager-replies",
        action="store_true",
        help="The server writes each reply at once (aiosmtpd's own protocol) instead of a"
        " pipelined group's replies in one write, as Postfix's smtpd does.",
    )
    parser.add_argument(
        "--pools", help="Comma-separated pool sizes to measure the pool alone with, e.g. 4,8,16."
    )
    parser.add_argument(
        "--poll-cost",
        action="store_true",
        help="Only the in-process CPU per poll (sent-log statements) and per mail built.",
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=0,
        help="Routing events queued before the notifier process starts; its peak RSS.",
    )
    parser.add_argument(
        "--mix",
        choices=("staff", "backlog"),
        default="staff",
        help="Events of the whole-path figure (handler): agent/supervisor mails, or the"
        " backlog's mix (acknowledgements sent, rate-held or suppressed, agents' mails).",
    )
    parser.add_argument(
        "--loop",
        choices=[kind.value for kind in EventLoop],
        default=NotifierSettings.model_fields["event_loop"].default.value,
        help="Event loop of this process (the handler figures): the service's default"
        " (NOTIFIER_EVENT_LOOP), or the other one to compare.",
    )
    args = parser.parse_args()
    use_event_loop(EventLoop(args.loop))
    if args.poll_cost:
        write_result("notify_poll_cost", asyncio.run(poll_cost(postgres=args.postgres)))
        sys.exit(0)
    figures = asyncio.run(
        main(
            args.seconds,
            args.pool,
            batch=args.batch,
            postgres=args.postgres,
            kafka=args.kafka,
            profile=args.profile is not None,
            server_kind=args.server,
            pools=[int(n) for n in args.pools.split(",")] if args.pools else None,
            backlog=args.backlog,
            pipelining=not args.no_pipelining,
            mix=args.mix,
            depth=args.depth,
            buffered_replies=not args.eager_replies,
        )
    )
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        (args.profile / "notify_handler.txt").write_text(figures["handler"].pop("profile", ""))
    write_result("notify_throughput", figures | {"event_loop": args.loop})

"""Notifier throughput: mails/s into a real SMTP server (aiosmtpd on loopback).

    python -m bench.notify_throughput [--seconds 4] [--pool 4] [--batch 500]
        [--postgres] [--kafka] [--profile DIR]

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

``--postgres`` keeps the sent-log in a throwaway PostgreSQL (Debian's server
binaries) instead of SQLite. ``--profile DIR`` writes a pyinstrument profile of
the ``handler`` figure (text) there. The load average at start and end is
recorded: figures from a busy machine are not release figures.

The server runs in a thread of this process on the same (shared) cores, so
the figures are a floor. Results are printed and written to
``bench/results/notify_throughput.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import os
import platform
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import aiosmtplib
from aiokafka.admin import NewTopic
from aiosmtpd.controller import Controller

from bench.common import bootstrap_servers, write_result
from libs.common.cloudevents import CloudEvent
from libs.common.events import NotificationOutcome, RoutingEvent
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.kafka.consumer import Delivery
from libs.common.kafka.producer import EventProducer
from services.notifier.bootstrap import build_composer, handler_config
from services.notifier.decisions import plan_notifications
from services.notifier.handler import KafkaOutcomePublisher, NotificationHandler, OutcomePublisher
from services.notifier.mail import OutgoingMail
from services.notifier.samples import sample_events, snapshot
from services.notifier.sentlog import SentLog
from services.notifier.settings import NotifierSettings
from services.notifier.smtp import SmtpConfig, SmtpPool
from tools.testing.system import free_port


class CountingHandler:
    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.count += 1
        self.bytes += len(envelope.content or b"")
        return "250 OK"


SERVER_KINDS = {"thread": "same process, thread", "process": "a process of its own"}


class SmtpServer:
    """aiosmtpd on loopback: a thread of this process (the historical figures, which
    the server's own CPU and GIL share), or a process of its own, as a relay is."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.port = free_port()
        self._ctx = multiprocessing.get_context("spawn")
        self._count = self._ctx.Value("q", 0)
        self._bytes = self._ctx.Value("q", 0)
        self._stop = self._ctx.Event()
        self._process: BaseProcess | None = None
        self._controller: Controller | None = None
        self._counting = CountingHandler()

    def start(self) -> None:
        if self.kind == "thread":
            self._controller = Controller(self._counting, hostname="127.0.0.1", port=self.port)
            self._controller.start()
            return
        args = (self.port, self._count, self._bytes, self._stop)
        self._process = self._ctx.Process(target=serve_counting, args=args, daemon=True)
        self._process.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("SMTP server process did not start")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
        if self._process is not None:
            self._stop.set()
            self._process.join(10)

    @property
    def received(self) -> tuple[int, int]:
        if self.kind == "thread":
            return self._counting.count, self._counting.bytes
        return self._count.value, self._bytes.value


def serve_counting(port: int, count: Any, size: Any, stop: Any) -> None:
    """The SMTP server process: counts mails and bytes into shared values."""

    class Shared:
        async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
            with count.get_lock():
                count.value += 1
            with size.get_lock():
                size.value += len(envelope.content or b"")
            return "250 OK"

    controller = Controller(Shared(), hostname="127.0.0.1", port=port)
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


def build_mails(settings: NotifierSettings, count: int) -> list[OutgoingMail]:
    """Realistic mails: every sample notice in Korean and English, cycled."""
    composer = build_composer(settings)
    plan = handler_config(settings).plan
    notices = [
        (event, notice)
        for locale in ("ko", "en")
        for event in sample_events(snapshot(language=locale)).values()
        for notice in plan_notifications(event, plan).mails
    ]
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

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    return {"mails": sent, "seconds": round(elapsed, 3), "mails_per_s": round(sent / elapsed, 1)}


async def bench_pooled(config: SmtpConfig, mails: list[OutgoingMail], seconds: float) -> dict:
    pool = SmtpPool(config)
    try:
        result = await timed(
            seconds, lambda n: pool.send(mails[n % len(mails)]), workers=config.pool_size
        )
    finally:
        await pool.close()
    return result | {"connections": pool.connections_opened, "pool_size": config.pool_size}


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
) -> dict:
    """Polls of ``batch`` events through ``handle_batch``, one after another, as the runner does."""
    events = staff_events()
    counter = itertools.count()
    async with notice_path(settings, sentlog_url, kafka) as (handler, outcomes, sentlog):
        await handler.handle_batch(poll(events, counter, min(batch, 20)))  # warm up
        warm = outcomes.count
        profiler = _profiler(profile)
        started = time.perf_counter()
        polls = 0
        while time.perf_counter() - started < seconds:
            await handler.handle_batch(poll(events, counter, batch))
            polls += 1
        elapsed = time.perf_counter() - started
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
        "outcomes": sent,
        "sentlog": sentlog_url.split("+", 1)[0],
        "batch": batch,
        "polls": polls,
        "sentlog_rows": recorded,
        "outcomes_to": "kafka" if kafka else "memory",
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


async def main(
    seconds: float,
    pool_size: int,
    *,
    batch: int = 500,
    postgres: bool = False,
    kafka: bool = False,
    profile: bool = False,
    server_kind: str = "thread",
) -> dict:
    load_start = os.getloadavg()
    server = SmtpServer(server_kind)
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
    )
    if kafka:
        broker = settings.kafka.model_copy(update={"bootstrap_servers": bootstrap_servers()})
        settings = settings.model_copy(update={"kafka": broker})
    try:
        config = SmtpConfig.from_settings(settings)
        mails = build_mails(settings, 100)
        pooled = await bench_pooled(config, mails, seconds)
        per_mail = await bench_connect_per_mail(config, mails, seconds / 2)
        with sentlog_database(postgres, state) as url:
            handler = await bench_handler(
                settings, seconds, sentlog_url=url, batch=batch, kafka=kafka, profile=profile
            )
        with sentlog_database(postgres, Path(tempfile.mkdtemp(prefix="notify-bench-"))) as url:
            per_event = await bench_handler_per_event(settings, seconds / 2, sentlog_url=url)
    finally:
        server.stop()
    received, received_bytes = server.received
    return {
        "platform": platform.platform(),
        "server": f"aiosmtpd ({SERVER_KINDS[server_kind]}) on 127.0.0.1",
        "mail_bytes_avg": round(received_bytes / max(received, 1)),
        "pooled": pooled,
        "connect_per_mail": per_mail,
        "reuse_speedup": round(pooled["mails_per_s"] / max(per_mail["mails_per_s"], 0.1), 2),
        "handler": handler,
        "handler_per_event": per_event,
        "batch_speedup": round(handler["mails_per_s"] / max(per_event["mails_per_s"], 0.1), 2),
        "server_received": received,
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
        choices=sorted(SERVER_KINDS),
        default="thread",
        help="SMTP server in a thread of this process (default, as before) or its own process.",
    )
    args = parser.parse_args()
    figures = asyncio.run(
        main(
            args.seconds,
            args.pool,
            batch=args.batch,
            postgres=args.postgres,
            kafka=args.kafka,
            profile=args.profile is not None,
            server_kind=args.server,
        )
    )
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        (args.profile / "notify_handler.txt").write_text(figures["handler"].pop("profile", ""))
    write_result("notify_throughput", figures)

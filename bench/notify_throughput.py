"""Notifier throughput: mails/s into a real SMTP server (aiosmtpd on loopback).

    python -m bench.notify_throughput [--seconds 4] [--pool 4]

Three figures, each run for a fixed time (whole run ≤ 20 s):

- ``pooled``: pre-built Korean/English mails through ``SmtpPool`` — a few
  persistent connections reused for every mail (what the notifier does);
- ``connect_per_mail``: the same mails, one new SMTP connection each
  (``aiosmtplib.send``) — the baseline connection reuse is measured against;
- ``handler``: the whole notice path — plan, render (Jinja2), build, claim in
  the SQLite sent-log, send through the pool, record ``sent`` — with outcomes
  collected in memory instead of Kafka.

The server runs in a thread of this process on the same (shared) cores, so
the figures are a floor. Results are printed and written to
``bench/results/notify_throughput.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import platform
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosmtplib
from aiosmtpd.controller import Controller

from bench.common import write_result
from libs.common.events import NotificationOutcome
from services.notifier.bootstrap import build_composer, handler_config
from services.notifier.decisions import plan_notifications
from services.notifier.handler import NotificationHandler
from services.notifier.mail import OutgoingMail
from services.notifier.samples import sample_events, snapshot
from services.notifier.sentlog import SentLog
from services.notifier.settings import NotifierSettings
from services.notifier.smtp import SmtpConfig, SmtpPool


class CountingHandler:
    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.count += 1
        self.bytes += len(envelope.content or b"")
        return "250 OK"


class NoWebhooks:
    async def post(self, request: object) -> None:
        raise AssertionError("the benchmark configures no webhook targets")


class MemoryOutcomes:
    def __init__(self) -> None:
        self.count = 0

    async def publish(self, outcome: NotificationOutcome) -> None:
        self.count += 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
            mail.message,
            sender=mail.sender,
            recipients=[mail.recipient],
            hostname=config.host,
            port=config.port,
            start_tls=False,
        )

    return await timed(seconds, send, workers=config.pool_size) | {"pool_size": config.pool_size}


async def bench_handler(settings: NotifierSettings, seconds: float) -> dict:
    sentlog = SentLog(settings.resolved_sentlog_url())
    await sentlog.open()
    pool = SmtpPool(SmtpConfig.from_settings(settings))
    outcomes = MemoryOutcomes()
    handler = NotificationHandler(
        config=handler_config(settings),
        composer=build_composer(settings),
        sentlog=sentlog,
        smtp=pool,
        webhooks=NoWebhooks(),
        outcomes=outcomes,
    )
    events = list(sample_events(snapshot(language="ko")).values())
    staff = [
        e for e in events if e.ce_type in ("support.conversation.assigned", "support.sla.warning")
    ]
    try:
        result = await timed(
            seconds,
            lambda n: handler.handle(f"bench-{n}", staff[n % len(staff)]),
            workers=settings.smtp_pool_size,
        )
    finally:
        await pool.close()
        await sentlog.close()
    return result | {"outcomes": outcomes.count, "sentlog": "sqlite"}


async def main(seconds: float, pool_size: int) -> dict:
    counting = CountingHandler()
    port = free_port()
    controller = Controller(counting, hostname="127.0.0.1", port=port)
    controller.start()
    state = Path(tempfile.mkdtemp(prefix="notify-bench-"))
    settings = NotifierSettings(
        smtp_port=port,
        smtp_pool_size=pool_size,
        state_dir=state,
        rate_window_minutes=0,
        mail_domain="desk.example",
        from_address="support@desk.example",
    )
    try:
        config = SmtpConfig.from_settings(settings)
        mails = build_mails(settings, 100)
        pooled = await bench_pooled(config, mails, seconds)
        per_mail = await bench_connect_per_mail(config, mails, seconds / 2)
        handler = await bench_handler(settings, seconds)
    finally:
        controller.stop()
    return {
        "platform": platform.platform(),
        "server": "aiosmtpd (same process, thread) on 127.0.0.1",
        "mail_bytes_avg": round(counting.bytes / max(counting.count, 1)),
        "pooled": pooled,
        "connect_per_mail": per_mail,
        "reuse_speedup": round(pooled["mails_per_s"] / max(per_mail["mails_per_s"], 0.1), 2),
        "handler": handler,
        "server_received": counting.count,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="Per figure (pooled, handler).")
    parser.add_argument("--pool", type=int, default=4, help="SMTP connections / workers.")
    args = parser.parse_args()
    write_result("notify_throughput", asyncio.run(main(args.seconds, args.pool)))

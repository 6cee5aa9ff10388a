"""IMAP arrival → event on Kafka, with IDLE: p50/p99 over at least 200 mails.

Starts its own Dovecot (tools.testing.dovecot, needs dovecot-imapd and
root or a matching user), creates fresh topics on the broker
(``KAFKA_BOOTSTRAP_SERVERS`` or the local one), runs ``python -m
services.email_ingest`` as its own process, then APPENDs mail over one IMAP
connection at a steady pace and times each from the start of its APPEND to
the moment this process reads the event from Kafka.

Dovecot itself delays IDLE notifications by up to half a second (it batches
mailbox change notifications), so that is the floor of this figure.

Both ends are stamped in this process, so its own garbage collector is paused while
it times (``bench.common.bench_gc_paused``; ``--bench-gc`` leaves it on, as before): a
full collection here walks ~50,000 objects (tens of ms), and a mail whose event
arrives meanwhile is read, and timed, late. The run's topics are deleted at the end.

    python -m bench.imap_latency [--mails 250] [--rate 20] [--bench-gc]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
import time
import uuid
from contextlib import nullcontext
from email.message import EmailMessage
from email.policy import SMTP

from aiokafka import AIOKafkaConsumer

from bench.common import (
    bench_gc_paused,
    bootstrap_servers,
    latency_summary_ms,
    run_topic_names,
    write_result,
)
from libs.common.ids import deterministic_id
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.settings import KafkaSettings, TopicSettings
from tools.testing.dovecot import DovecotServer

TARGET_P99_MS = 1_000
MAILBOX_ID = "bench"


def bench_mail(number: int, run: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {number} <c{number}@example.com>"
    message["To"] = "help@desk.example"
    message["Subject"] = f"[bench] question {number}"
    message["Message-ID"] = f"<{run}-{number}@bench.example>"
    message.set_content(f"출금 문의 {number}: 아직 입금이 안 됐어요.\n", charset="utf-8")
    return message.as_bytes(policy=SMTP)


async def _wait_until_watching(consumer: AIOKafkaConsumer, append, run: str) -> None:  # type: ignore[no-untyped-def]
    """One warm-up mail: the service is connected and IDLE once its event arrives."""
    await append(bench_mail(-1, run), "INBOX")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=200)
        if any(batches.values()):
            return
    raise RuntimeError("the service published nothing within 60 s")


async def measure(mails: int, rate: float, *, bench_gc: bool = False) -> dict[str, object]:
    run = uuid.uuid4().hex[:8]
    topics = TopicSettings(
        interactions=f"bench-imap-{run}.interactions",
        routing=f"bench-imap-{run}.routing",
        notifications=f"bench-imap-{run}.notifications",
        deadletter=f"bench-imap-{run}.deadletter",
        partitions=3,
    )
    kafka = KafkaSettings(bootstrap_servers=bootstrap_servers(), topics=topics)
    await create_topics(kafka)
    try:
        return await _measure(kafka, mails, rate, run, bench_gc=bench_gc)
    finally:
        # The run's own topics: left behind they fill the broker's disk.
        await delete_topics(kafka, run_topic_names(topics))


async def _measure(
    kafka: KafkaSettings, mails: int, rate: float, run: str, *, bench_gc: bool
) -> dict[str, object]:
    topics = kafka.topics
    with DovecotServer() as dovecot, tempfile.TemporaryDirectory() as state:
        dovecot.add_user("bench", "bench-pw")
        mailbox = {
            "id": MAILBOX_ID, "host": dovecot.host, "port": dovecot.imap_port, "tls": "plain",
            "username": "bench", "password": "bench-pw", "post_action": "flag",
        }  # fmt: skip
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "KAFKA_TOPIC_INTERACTIONS": topics.interactions,
            "KAFKA_TOPIC_DEADLETTER": topics.deadletter,
            "EMAIL_INGEST_MAILBOXES": json.dumps([mailbox]),
            "EMAIL_INGEST_STATE_DIR": state,
            "EMAIL_INGEST_LOG_LEVEL": "WARNING",
        }
        service = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.email_ingest", env=env
        )
        consumer = AIOKafkaConsumer(
            topics.interactions,
            bootstrap_servers=kafka.bootstrap_servers,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        try:
            async with dovecot.appender("bench") as append:
                await _wait_until_watching(consumer, append, run)
                with nullcontext() if bench_gc else bench_gc_paused():
                    latencies = await _timed_run(consumer, append, run, mails, rate)
        finally:
            await consumer.stop()
            service.send_signal(signal.SIGTERM)
            await asyncio.wait_for(service.wait(), 30)
    return {
        "mails": mails,
        "append_rate_per_s": rate,
        "latency": latencies,
        "bench_gc": "on (--bench-gc)" if bench_gc else "paused while timing",
    }


async def _timed_run(consumer, append, run: str, mails: int, rate: float):  # type: ignore[no-untyped-def]
    sent_at: dict[str, float] = {}
    seconds: list[float] = []
    reader = asyncio.create_task(_read(consumer, sent_at, seconds, mails))
    for number in range(mails):
        event_id = deterministic_id("email", MAILBOX_ID, f"{run}-{number}@bench.example")
        sent_at[event_id] = time.perf_counter()
        await append(bench_mail(number, run), "INBOX")
        await asyncio.sleep(1 / rate)
    await asyncio.wait_for(reader, 60)
    return latency_summary_ms(seconds)


async def _read(consumer, sent_at: dict[str, float], seconds: list[float], mails: int) -> None:  # type: ignore[no-untyped-def]
    while len(seconds) < mails:
        batches = await consumer.getmany(timeout_ms=100)
        now = time.perf_counter()
        for records in batches.values():
            for record in records:
                event_id = dict(record.headers).get("ce_id", b"").decode()
                if event_id in sent_at:
                    seconds.append(now - sent_at.pop(event_id))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mails", type=int, default=250, help="Mails timed (>= 200).")
    parser.add_argument("--rate", type=float, default=20.0, help="APPENDs per second.")
    parser.add_argument(
        "--bench-gc",
        action="store_true",
        help="leave this process's garbage collector on while it times (as before; its "
        "pauses then show as latency: bench.common.bench_gc_paused)",
    )
    args = parser.parse_args()
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the service child is stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # A fresh topic is briefly unknown to the consumer's metadata; not worth a warning.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    figures = asyncio.run(measure(max(200, args.mails), args.rate, bench_gc=args.bench_gc))
    latency = figures["latency"]
    assert isinstance(latency, dict)
    write_result(
        "imap_latency",
        {
            **figures,
            "target_p99_ms": TARGET_P99_MS,
            "meets_target": latency["p99_ms"] < TARGET_P99_MS,
        },
    )


if __name__ == "__main__":
    main()

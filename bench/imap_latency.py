"""IMAP arrival → event on Kafka, with IDLE: p50/p99 over at least 200 mails.

Starts its own Dovecot (tools.testing.dovecot, needs dovecot-imapd and
root or a matching user), creates fresh topics on the broker
(``KAFKA_BOOTSTRAP_SERVERS`` or the local one), runs ``python -m
services.email_ingest`` as its own process, then APPENDs mail over one IMAP
connection at a steady pace and times each from the start of its APPEND to
the moment this process reads the event from Kafka.

Dovecot 2.3 tells an IDLE session of new mail 500 ms after the first change it sees
(``NOTIFY_DELAY_MSECS``): a mail that finds the service in IDLE waits that long. The
service looks again (``EMAIL_INGEST_RECHECK_S``) rather than IDLE while mail comes in.

Both ends are stamped in this process, so its own garbage collector is paused while
it times (``bench.common.bench_gc_paused``; ``--bench-gc`` leaves it on, as before): a
full collection here walks ~50,000 objects (tens of ms), and a mail whose event
arrives meanwhile is read, and timed, late. The run's topics are deleted at the end.

With ``--hops`` the service talks to Dovecot through ``bench.imap_wire``'s stamping
relay, and each mail's latency is split into hops (wall clock, ms): ``append`` (the
bench's APPEND until its OK), ``notice`` (until the service reads ``* n EXISTS``),
``fetch`` (until the event's ``ce_time``: IDLE's DONE, UID SEARCH, UID FETCH and the
mails ahead of it), ``handle`` (until the producer stamped the record: parse, checks,
blobs) and ``deliver`` (until this process read it: the broker's ack and this
consumer's fetch); ``state`` is the last command the service had sent when the APPEND
was answered; ``since_appended`` is the total less ``append`` (from the mail's arrival
in the folder). The slowest mails are listed with their hops, and ``service_steps_ms``
times each step of the service's IMAP cycle (``STORE -> STORE``: one mail of a
fetched batch to the next; ``IDLE accepted -> DONE``: the IDLE's wait).

    python -m bench.imap_latency [--mails 250] [--rate 20] [--bench-gc] [--hops]
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
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP

from aiokafka import AIOKafkaConsumer

from bench.common import (
    bench_gc_paused,
    bootstrap_servers,
    latency_summary_ms,
    percentile,
    run_topic_names,
    write_result,
)
from bench.imap_wire import StampingRelay, WireStamps
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


@dataclass
class MailStamps:
    """One timed mail's wall-clock stamps (``--hops``)."""

    sequence: int  # its message number in INBOX
    sent: float
    appended: float = 0.0
    received: float = 0.0  # the event's ce_time: when the service began handling it
    recorded: float = 0.0  # the Kafka record's timestamp (the producer's send)
    read: float = 0.0

    def hops_ms(self, wire: WireStamps) -> dict[str, float | str]:
        noticed = wire.first_exists(self.sequence, after=self.sent) or float("nan")
        points = [("append", self.appended), ("notice", noticed), ("fetch", self.received),
                  ("handle", self.recorded), ("deliver", self.read)]  # fmt: skip
        hops: dict[str, float | str] = {"total": round((self.read - self.sent) * 1000, 1)}
        previous = self.sent
        for name, at in points:
            hops[name] = round((at - previous) * 1000, 1)
            previous = at
        hops["since_appended"] = round((self.read - self.appended) * 1000, 1)
        hops["state"] = wire.state_at(self.appended)
        return hops


@dataclass
class Timing:
    sent_at: dict[str, float] = field(default_factory=dict)  # event id -> perf_counter
    seconds: list[float] = field(default_factory=list)
    stamps: dict[str, MailStamps] = field(default_factory=dict)  # event id -> wall clock


async def measure(
    mails: int, rate: float, *, bench_gc: bool = False, hops: bool = False
) -> dict[str, object]:
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
        return await _measure(kafka, mails, rate, run, bench_gc=bench_gc, hops=hops)
    finally:
        # The run's own topics: left behind they fill the broker's disk.
        await delete_topics(kafka, run_topic_names(topics))


async def _measure(
    kafka: KafkaSettings, mails: int, rate: float, run: str, *, bench_gc: bool, hops: bool
) -> dict[str, object]:
    topics = kafka.topics
    with DovecotServer() as dovecot, tempfile.TemporaryDirectory() as state:
        dovecot.add_user("bench", "bench-pw")
        relay = StampingRelay(dovecot.host, dovecot.imap_port) if hops else None
        port = await relay.start() if relay is not None else dovecot.imap_port
        mailbox = {
            "id": MAILBOX_ID, "host": dovecot.host, "port": port, "tls": "plain",
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
        timing = Timing()
        try:
            async with dovecot.appender("bench") as append:
                await _wait_until_watching(consumer, append, run)
                with nullcontext() if bench_gc else bench_gc_paused():
                    await _timed_run(consumer, append, run, mails, rate, timing)
        finally:
            await consumer.stop()
            service.send_signal(signal.SIGTERM)
            await asyncio.wait_for(service.wait(), 30)
            if relay is not None:
                await relay.stop()
    figures: dict[str, object] = {
        "mails": mails,
        "append_rate_per_s": rate,
        "latency": latency_summary_ms(timing.seconds),
        "bench_gc": "on (--bench-gc)" if bench_gc else "paused while timing",
    }
    if relay is not None:
        figures["hops"] = hop_figures(list(timing.stamps.values()), relay.stamps)
    return figures


def hop_figures(stamps: list[MailStamps], wire: WireStamps, slowest: int = 6) -> dict[str, object]:
    """Each hop's p50/p99/max (ms), how many mails found the service in each state,
    and the slowest mails' hops."""
    rows = [mail.hops_ms(wire) for mail in stamps if mail.read]
    summary: dict[str, object] = {}
    for hop in ("append", "notice", "fetch", "handle", "deliver", "total", "since_appended"):
        values = [float(row[hop]) for row in rows]
        summary[hop] = {"p50": percentile(values, 50), "p99": percentile(values, 99),
                        "max": max(values, default=float("nan"))}  # fmt: skip
    states: dict[str, int] = {}
    for row in rows:
        states[str(row["state"])] = states.get(str(row["state"]), 0) + 1
    summary["state_at_append"] = states
    summary["service_steps_ms"] = wire.step_figures()
    summary["slowest"] = sorted(rows, key=lambda row: -float(row["total"]))[:slowest]
    return summary


async def _timed_run(consumer, append, run: str, mails: int, rate: float, timing: Timing):  # type: ignore[no-untyped-def]
    reader = asyncio.create_task(_read(consumer, timing, mails))
    for number in range(mails):
        event_id = deterministic_id("email", MAILBOX_ID, f"{run}-{number}@bench.example")
        # INBOX holds the warm-up mail first, and nothing is expunged.
        stamps = timing.stamps[event_id] = MailStamps(sequence=number + 2, sent=time.time())
        timing.sent_at[event_id] = time.perf_counter()
        await append(bench_mail(number, run), "INBOX")
        stamps.appended = time.time()
        await asyncio.sleep(1 / rate)
    await asyncio.wait_for(reader, 60)


async def _read(consumer, timing: Timing, mails: int) -> None:  # type: ignore[no-untyped-def]
    while len(timing.seconds) < mails:
        batches = await consumer.getmany(timeout_ms=100)
        now, wall = time.perf_counter(), time.time()
        for records in batches.values():
            for record in records:
                headers = dict(record.headers)
                event_id = headers.get("ce_id", b"").decode()
                if event_id in timing.sent_at:
                    timing.seconds.append(now - timing.sent_at.pop(event_id))
                    stamps = timing.stamps[event_id]
                    stamps.read = wall
                    stamps.recorded = record.timestamp / 1000
                    stamps.received = datetime.fromisoformat(
                        headers["ce_time"].decode()
                    ).timestamp()


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
    parser.add_argument(
        "--hops",
        action="store_true",
        help="relay the service's IMAP through a stamping proxy and split each mail's "
        "latency into hops (bench.imap_wire)",
    )
    args = parser.parse_args()
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the service child is stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # A fresh topic is briefly unknown to the consumer's metadata; not worth a warning.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    figures = asyncio.run(
        measure(max(200, args.mails), args.rate, bench_gc=args.bench_gc, hops=args.hops)
    )
    latency = figures["latency"]
    assert isinstance(latency, dict)
    # A relayed run is a diagnosis, not the figure #16's table quotes.
    write_result(
        "imap_latency_hops" if args.hops else "imap_latency",
        {
            **figures,
            "target_p99_ms": TARGET_P99_MS,
            "meets_target": latency["p99_ms"] < TARGET_P99_MS,
        },
    )


if __name__ == "__main__":
    main()

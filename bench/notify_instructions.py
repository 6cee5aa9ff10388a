"""The notifier's whole in-process notice path on the backlog mix, for instruction counts.

    valgrind --tool=callgrind --callgrind-out-file=/tmp/n1.out \\
        .venv/bin/python -m bench.notify_instructions --polls 1
    valgrind --tool=callgrind --callgrind-out-file=/tmp/n5.out \\
        .venv/bin/python -m bench.notify_instructions --polls 5
    (instructions per outcome = (total of 5 - total of 1) / (outcomes of 5 - outcomes of 1))

    python -m bench.notify_instructions --polls 5 --split   # CPU-µs per step, no valgrind
    python -m bench.notify_instructions --mix pipeline --batch 3 ...  # one POST a poll

Counting only the polls, without valgrind's wait for start-up and the SMTP server (whole
runs differed by hundreds of millions of instructions with the machine's load)::

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/p.out \\
        .venv/bin/python -m bench.notify_instructions --mix pipeline --batch 3 \\
        --polls 20 --polls-max 20 --warm 4 --instr-window --log-level WARNING
    (instructions per poll = the total / 20)

``--spread N``: each poll ``--batch`` ± N POSTs, a size of its own (:func:`poll_sizes`), as
a paced rate's polls: with one size every poll reuses the first one's compiled sent-log
statements, which a paced notifier does not (``bench.notify_paced_cpu``)::

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/s.out \\
        .venv/bin/python -m bench.notify_instructions --mix pipeline --batch 300 \\
        --spread 40 --polls 12 --polls-max 12 --warm 2 --instr-window --log-level WARNING

``--mix pipeline``: :func:`pipeline_events`, ``bench.pipeline``'s web chats (a new visitor
each, the acknowledgement into the web-chat outbox, the agent's mail) instead of the
backlog's; with ``--batch 3`` a poll is one POST's events, as at low rates.

Each poll is ``--batch`` records of :func:`bench.notify_throughput.backlog_events` (every
interaction's ``interaction.routed``, ``conversation.opened`` and ``conversation.assigned``)
encoded as the router's relay produces them, then taken as the consumer runner takes a
poll: records of a silent type committed undecoded by their ``ce_type`` header, the others
decoded (``cloudevents.decode``) and handed to ``handle_batch`` together; the sent-log on
SQLite in a temporary directory, mails through ``SmtpPool`` into aiosmtpd in a process of
its own (valgrind does not follow it), outcomes encoded as the producer does
(``EventProducer.publish_many``) and dropped instead of sent to Kafka; logging as the
service's (JSON, ``--log-level``, default INFO as the service's). The run starts with
``--warm`` polls (Jinja's template cache, the sent-log's statements), not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
from aiokafka.structs import RecordMetadata

from bench.notify_throughput import (
    NoWebhooks,
    SmtpServer,
    backlog_events,
    new_conversation_events,
)
from libs.common.cloudevents import CloudEvent, Headers, decode, encode
from libs.common.events import Channel, CustomerIdentity, ReplyPath, RoutingEvent
from libs.common.gc_tuning import tune_for_polls
from libs.common.kafka.consumer import Delivery
from libs.common.kafka.producer import EventProducer, OutgoingRecord
from libs.common.logging import configure_logging
from libs.providers.integrations import Integration, Provider
from services.notifier.bootstrap import build_composer, handler_config, use_event_loop
from services.notifier.chat import build_chat_senders
from services.notifier.decisions import silent_types
from services.notifier.handler import KafkaOutcomePublisher, NotificationHandler
from services.notifier.samples import snapshot
from services.notifier.sentlog import SentLog
from services.notifier.settings import EventLoop, NotifierSettings
from services.notifier.smtp import SmtpConfig, SmtpPool
from services.notifier.webchat import WebchatSender

Record = tuple[tuple[tuple[str, bytes], ...], bytes]
#: Every run builds this many polls' events, whatever ``--polls`` (≤ it) uses: so the
#: difference of two runs is the notice path alone, not also the building of the events.
MAX_POLLS = 5
WEBCHAT = "pbench"  # bench.pipeline's web-chat integration


class DroppingProducer(EventProducer):
    """``publish_many`` as the service runs it (each outcome encoded), nothing sent."""

    def __init__(self, settings: NotifierSettings) -> None:
        super().__init__(settings.kafka, client_id="bench-notifier")
        self.records = 0

    async def send_many(
        self, topic: str, records: Sequence[OutgoingRecord]
    ) -> list[RecordMetadata]:
        self.records += len(records)
        return []


def pipeline_events(count: int) -> Iterator[RoutingEvent]:
    """``count`` routing events as ``bench.pipeline``'s web chats make them: every POST a
    new visitor on the web-chat integration ``pbench`` (its ``reply_path`` the visitor),
    so each interaction's ``interaction.routed`` (no notice), ``conversation.opened``
    (the visitor's ``chat_ack`` into the web-chat outbox) and ``conversation.assigned``
    (the agent's ``agent_assigned`` mail)."""
    produced = 0
    for n in itertools.count():
        conversation = snapshot(reference=f"C-{n}", channel=Channel.CHAT).model_copy(
            update={
                "customer": CustomerIdentity(display_name=f"visitor {n}", locale="ko"),
                "reply_path": ReplyPath(
                    provider=Provider.WEBCHAT.value, integration=WEBCHAT, address=f"v-{n}"
                ),
            }
        )
        for event in new_conversation_events(conversation, f"i-{n}"):
            if produced == count:
                return
            produced += 1
            yield event


MIXES = {"backlog": backlog_events, "pipeline": pipeline_events}


def relayed(event: RoutingEvent, event_id: str) -> tuple[Headers, bytes]:
    """``event``'s headers and bytes as the router's relay sends it (source, subject)."""
    return encode(
        CloudEvent(
            id=event_id,
            source="router",
            type=event.ce_type,
            data=event,
            subject=event.conversation.conversation_id,
        )
    )


def poll_sizes(count: int, batch: int, spread: int = 0) -> list[int]:
    """Records of each of ``count`` polls: ``batch``, or with ``spread`` a size of its own
    within ``batch`` ± ``spread`` POSTs (three records each), the same every run — as a
    paced rate's polls, which hold ever other numbers of POSTs (``--spread``; with one
    size every poll's statements are the first poll's, compiled once)."""
    if spread <= 0:
        return [batch] * count
    return [max(3, batch + 3 * ((n * 7) % (2 * spread + 1) - spread)) for n in range(count)]


def encoded_polls(
    count: int, batch: int, mix: str = "backlog", spread: int = 0
) -> list[list[Record]]:
    """The mix's routing events as the consumer gets them from the relay, ``batch`` a poll:
    the relay's seven headers (``ce_subject``, the conversation id, after ``encode``'s six;
    ``services.router.relay.RecordHeaders``) in a tuple, as aiokafka's ``ConsumerRecord``
    holds them (its fetcher hands ``tuple(record.headers)``)."""
    sizes = poll_sizes(count, batch, spread)
    records = []
    for n, event in enumerate(MIXES[mix](sum(sizes))):
        headers, value = relayed(event, f"bench-{n}")
        records.append((tuple(headers), value))
    polls, start = [], 0
    for size in sizes:
        polls.append(records[start : start + size])
        start += size
    return polls


class Poll:
    """The consumer runner's steps for one poll, split so they can be timed."""

    def __init__(self, silent: frozenset[str]) -> None:
        self._skipped = frozenset(t.encode() for t in silent)
        self.skipped = 0

    def deliveries(self, records: list[Record]) -> list[Delivery]:
        out = []
        for headers, value in records:
            if any(k == "ce_type" and v in self._skipped for k, v in headers):
                self.skipped += 1
                continue
            out.append(Delivery(None, decode(headers, value)))  # type: ignore[arg-type]
        return out


def callgrind_instrumentation(on: bool) -> None:
    """Switch callgrind's instrumentation of this process on or off (``--instr-window``)."""
    flag = "on" if on else "off"
    subprocess.run(
        ["callgrind_control", "-i", flag, str(os.getpid())],
        check=True,
        capture_output=True,
    )


async def run(
    polls: int,
    batch: int,
    warm: int,
    split: bool,
    mix: str = "backlog",
    instr_window: bool = False,
    polls_max: int = MAX_POLLS,
    spread: int = 0,
) -> dict:
    # as the notifier's __main__ does: without the young generation's higher threshold
    # ~40 K instructions an outcome were collections the service does not make (nrender)
    tune_for_polls()
    server = SmtpServer("process")
    server.start()
    state = Path(tempfile.mkdtemp(prefix="notify-instr-"))
    settings = NotifierSettings(
        smtp_port=server.port,
        state_dir=state,
        mail_domain="desk.example",
        from_address="support@desk.example",
        integrations=[Integration(id=WEBCHAT, provider=Provider.WEBCHAT, secret="x" * 32)],
    )
    sentlog = SentLog(settings.resolved_sentlog_url())
    await sentlog.open()
    http = httpx.AsyncClient()
    pool = SmtpPool(SmtpConfig.from_settings(settings))
    producer = DroppingProducer(settings)
    config = handler_config(settings)
    handler = NotificationHandler(
        config=config,
        composer=build_composer(settings),
        sentlog=sentlog,
        smtp=pool,
        webhooks=NoWebhooks(),
        outcomes=KafkaOutcomePublisher(producer, topic="notifications", source="notifier"),
        chat=build_chat_senders(
            settings.all_integrations(), http, webchat=lambda i: WebchatSender(i, sentlog)
        ),
    )
    consumer = Poll(silent_types(config.plan))
    all_polls = encoded_polls(warm + polls_max, batch, mix, spread)[: warm + polls]
    decode_s = handle_s = 0.0
    try:
        for records in all_polls[:warm]:
            await handler.handle_batch(consumer.deliveries(records))
        skipped, outcomes = consumer.skipped, producer.records
        if instr_window:
            callgrind_instrumentation(True)
        for records in all_polls[warm:]:
            started = time.process_time()
            deliveries = consumer.deliveries(records)
            decoded = time.process_time()
            await handler.handle_batch(deliveries)
            decode_s += decoded - started
            handle_s += time.process_time() - decoded
        if instr_window:
            callgrind_instrumentation(False)
    finally:
        await pool.close()
        await http.aclose()
        await sentlog.close()
        server.stop()
        shutil.rmtree(state, ignore_errors=True)
    counted = producer.records - outcomes
    result = {
        "polls": polls,
        "records": sum(map(len, all_polls[warm:])),
        "skipped_undecoded": consumer.skipped - skipped,
        "outcomes": counted,
        "mails_received": server.received[0],
    }
    if split:
        result |= {
            "decode_us_per_outcome": round(decode_s / counted * 1e6, 1),
            "handle_batch_us_per_outcome": round(handle_s / counted * 1e6, 1),
            "decode_us_per_poll": round(decode_s / polls * 1e6, 1),
            "handle_batch_us_per_poll": round(handle_s / polls * 1e6, 1),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--polls", type=int, default=1)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--warm", type=int, default=2)
    parser.add_argument("--split", action="store_true")
    parser.add_argument("--mix", choices=sorted(MIXES), default="backlog")
    parser.add_argument("--polls-max", type=int, default=MAX_POLLS)
    parser.add_argument(
        "--spread",
        type=int,
        default=0,
        help="each poll batch ± this many POSTs (3 records), a size of its own: see poll_sizes",
    )
    parser.add_argument(
        "--instr-window",
        action="store_true",
        help="under valgrind --instr-atstart=no: instrument the counted polls only",
    )
    parser.add_argument("--log-level", default="INFO", help="the service's default: INFO")
    args = parser.parse_args()
    assert args.polls <= args.polls_max
    # As ``python -m services.notifier`` logs (JSON lines on stderr; send it to /dev/null).
    configure_logging("notifier", level=args.log_level, fmt="json")
    use_event_loop(EventLoop.UVLOOP)
    print(
        asyncio.run(
            run(
                args.polls,
                args.batch,
                args.warm,
                args.split,
                args.mix,
                args.instr_window,
                args.polls_max,
                args.spread,
            )
        )
    )


if __name__ == "__main__":
    main()

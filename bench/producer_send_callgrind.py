"""Instructions per ``EventProducer.publish`` of a web-chat event, Kafka client included,
one record at a time (each its own produce request, as in a quiet webhook service).

Publishes through the real ``WebhookEventProducer`` to the broker (``KAFKA_BOOTSTRAP_SERVERS``,
else the local one), awaiting each ack before the next record, so the work per record
does not depend on the machine's load (no batching under load); the measured records
run inside ``operator.call`` so that callgrind collects exactly them::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python -m bench.producer_send_callgrind [--records 300]
    # "Collected : N" on stderr: N / records = instructions per record

The idle loop's work while waiting for the broker (the sender task, timers) is counted
too. Without valgrind it runs the same records (a check that the harness works).
"""

from __future__ import annotations

import argparse
import asyncio
import operator

from bench.common import bootstrap_servers, delete_run_topics
from bench.webhook_load import _create_topics, _run_kafka, chat_target
from libs.common.events.base import utc_now
from libs.common.kafka.producer import EventProducer
from libs.common.webhooks.producer import WebhookEventProducer
from libs.providers.inbound import ChatEvent, IngestContext
from libs.providers.webchat import inbound as webchat
from libs.providers.webhooks import InboundOptions, WebhookInput

WARM_UP = 100


def _events(count: int) -> list[ChatEvent]:
    """Web-chat events as chat_ingest publishes them, parsed from the benchmark's requests."""
    target = chat_target("webchat")
    context = IngestContext(integration_id="bench", received_at=utc_now())
    events = []
    for n in range(count):
        request = target.build_request(n, "")
        webhook = WebhookInput(request.content, {}, {}, "", context.received_at)
        events.extend(webchat.parse(webhook, context, InboundOptions()).events)
    return events


async def _publish(producer: EventProducer, topic: str, events: list[ChatEvent]) -> None:
    for event in events:
        await producer.publish(topic, event.cloud_event(), key=event.key)


def main(args: argparse.Namespace) -> None:
    kafka = _run_kafka(bootstrap_servers())
    asyncio.run(_create_topics(kafka))
    topic = kafka.topics.interactions
    events = _events(WARM_UP + args.records)
    producer = WebhookEventProducer(kafka, client_id="bench", linger_ms=args.linger_ms)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(producer.start())
        loop.run_until_complete(_publish(producer, topic, events[:WARM_UP]))
        # callgrind collects inside operator.call only (--toggle-collect=_operator_call)
        operator.call(loop.run_until_complete, _publish(producer, topic, events[WARM_UP:]))
        loop.run_until_complete(producer.stop())
    finally:
        loop.close()
        delete_run_topics(kafka)
    print(f"{args.records} measured records published one at a time to {topic}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300, help="measured records")
    parser.add_argument("--linger-ms", type=int, default=5, help="chat_ingest's default")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())

"""Instructions of the outbox relay on the event loop's thread per routed interaction,
under callgrind: the share of the router's thread that ``bench.router_poll_callgrind``
does not count.

Routes ``bench.router_poll_callgrind``'s warmed polls of 400 (SQLite) with the rows
handed over to the relay as the service does (``CommittedOutbox``); after each poll,
inside ``operator.call`` (so callgrind collects only these), one relay round
(``publish_pending``: read the unsent ids, take the handed rows, build the records,
publish them to a real broker and wait for the acks) and every ``--mark-every`` rounds
the mark (``mark_published``, as ``bench.relay_cost``). aiokafka's sender runs on the
same loop during the round, so its work is counted; the broker's and aiosqlite's
threads are not (``--toggle-collect`` collects the thread that calls it)::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/relay.out \\
        .venv/bin/python -m bench.relay_callgrind [--polls 3]
    callgrind_annotate /tmp/relay.out | grep TOTALS   # / (polls * 400)

Measured at 7116f5e (3 polls of 400, 2,640 rows, one mark): the relay 158.2 M
instructions, 131.8 K an interaction routed, against 838.8 K for routing them
(``--route``): 13.6 % of the thread's work. Of the relay's: memcpy 27.5 % (aiokafka's
produce path copying each batch: bytes joins, concatenations, its builder's bytearray
reallocs), the batch builder's appends 20 %, its CRC-32C 9.3 %.

With produce requests encoded in one pass (``libs/common/kafka/produce_request.py``),
measured against its parent (9238eea, same harness): 146.3 M -> 127.4 M instructions,
122.0 K -> 106.2 K an interaction; memcpy 41.0 M -> 22.2 M (bytes joins 18.9 M -> 3.8 M,
concatenations 11.3 M -> 7.6 M: aiokafka's connection still prepends the request header
and the size, one copy each; the builder's bytearray reallocs, 8.7 M, are untouched).

``--route`` collects the routing of the same polls instead (the routed interaction's
own count, as ``bench.router_poll_callgrind``, here with the hand-over), so both
figures come from one harness. The broker: ``KAFKA_BOOTSTRAP_SERVERS``, or the local
one (``bench.common.bootstrap_servers``).

Stop 40 (3 - 1 polls, base 83bf36a and the new tree started together, 09:55 UTC): 97.3 ->
83.6 K an interaction with the relay's batches written by ``record_batch.RecordBatchWriter``
(the rows' headers written by ``RecordHeaders.written_records``, the batch's CRC-32C by
``google_crc32c``): aiokafka's table CRC-32C 14.6 M -> google_crc32c's 0.6 M, memcpy
25.3 M -> 17.5 M (the builder's reallocs gone; the copies left are the joins: a record's,
the batch's, the request's, aiokafka's header prepended).
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import tempfile
import uuid

from aiokafka.admin import NewTopic

from bench.common import bootstrap_servers
from bench.router_poll_callgrind import POLL, warmed_router
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.settings import KafkaSettings
from services.router.relay import MAX_ROUND, BatchPublisher, OutboxRelay
from services.router.service.interactions import route_batch
from services.router.store.outbox import CommittedOutbox


def main(args: argparse.Namespace) -> None:
    # valgrind runs the process ~50x slower: aiokafka's and the relay's timeouts stretched
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap_servers(), request_timeout_ms=600_000, send_timeout_s=600.0
    )
    topic = f"bench-relay-cg-{uuid.uuid4().hex[:8]}"
    loop = asyncio.new_event_loop()
    loop.run_until_complete(create_topics(kafka, [NewTopic(topic, 6, 1)]))
    publisher = BatchPublisher(kafka, client_id="bench-relay-callgrind")
    loop.run_until_complete(publisher.start())
    published = marked = 0
    try:
        with (
            tempfile.TemporaryDirectory() as folder,
            warmed_router(loop, folder, size=args.size) as (ctx, traffic),
        ):
            committed = CommittedOutbox()
            ctx.uow.hand_over = committed.hand_over  # as the service's composition root
            relay = OutboxRelay(ctx.uow, publisher, topic=topic, committed=committed)
            # the warm-up's rows (not handed over) published and marked, uncounted
            while loop.run_until_complete(relay.publish_pending(MAX_ROUND)):
                loop.run_until_complete(relay.mark_published())
            for n in range(args.polls + 1):  # the first: a handed-over round, uncounted
                batch = traffic.poll(args.size)
                if args.route and n:
                    operator.call(loop.run_until_complete, route_batch(ctx, batch))
                else:
                    loop.run_until_complete(route_batch(ctx, batch))
                mark = n % args.mark_every == 0 or n == args.polls  # n 0: its own, uncounted
                if args.route or not n:
                    sent = loop.run_until_complete(relay.publish_pending())
                    done = loop.run_until_complete(relay.mark_published()) if mark else 0
                else:
                    # callgrind collects inside operator.call only
                    sent = operator.call(loop.run_until_complete, relay.publish_pending())
                    done = (
                        operator.call(loop.run_until_complete, relay.mark_published())
                        if mark
                        else 0
                    )
                if n:
                    published += sent
                    marked += done
            loop.run_until_complete(relay.close())
    finally:
        loop.run_until_complete(publisher.stop())
        loop.run_until_complete(delete_topics(kafka, [topic]))
        loop.close()
    what = "routing" if args.route else "relay rounds"
    print(
        f"collected: {what} of {args.polls} polls of {args.size}"
        f" ({published} rows published, {marked} marked)"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=3, help="measured polls (and rounds)")
    parser.add_argument("--size", type=int, default=POLL, help="interactions per poll")
    parser.add_argument("--mark-every", type=int, default=3, help="rounds per mark")
    parser.add_argument(
        "--route", action="store_true", help="collect the routing instead of the relay"
    )
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())

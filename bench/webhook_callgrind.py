"""Instructions per webhook request inside the app, under callgrind (no HTTP; Kafka with --kafka).

The requests of ``bench/webhook_profile.py`` (same app, same signed requests, the
producer that encodes each CloudEvent and acks at once), one after the other; the
measured ones run inside ``operator.call`` so that callgrind collects exactly them::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/cg.out \
        .venv/bin/python -m bench.webhook_callgrind --target chat [--requests 300] [--served]
    # "Collected : N" on stderr: N / requests = instructions per request

``--kafka --concurrency 64`` publishes through the real ``WebhookEventProducer`` to
``KAFKA_BOOTSTRAP_SERVERS`` with 64 requests in flight, so that its produce requests
carry many records each, as at full throughput: the app's and the producer's
instructions a request (the broker is another process). ``--warm-up 4500`` first fills
the producer's 4,096-key partition cache, as in a service that has been running.

Without valgrind it runs the same requests (a check that the harness works).
Instruction counts do not depend on the machine's speed or load, unlike
CPU-seconds; uvicorn's HTTP work and the Kafka client's come on top.
"""

from __future__ import annotations

import argparse
import asyncio
import operator
from typing import Any

from bench.webhook_profile import WARM_UP, EncodingProducer, _app, _call, _kafka_producer
from libs.common.webhooks.fastpath import served_app


async def _drive(app: Any, requests: list[Any], concurrency: int = 1) -> dict[int, int]:
    statuses: dict[int, int] = {}
    pending = iter(requests)

    async def one_connection() -> None:
        for request in pending:
            status = await _call(app, request)
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(one_connection() for _ in range(concurrency)))
    return statuses


def main(args: argparse.Namespace) -> None:
    loop = asyncio.new_event_loop()
    if args.kafka:
        # The real producer to the broker, requests in flight at once: its produce requests
        # carry many records each, as at full throughput.
        producer: Any = loop.run_until_complete(_kafka_producer(args.linger_ms))
    else:
        producer = EncodingProducer()
    app, build = _app(args.target, args.provider, producer)
    driven = served_app(app) if args.served else app  # type: ignore[arg-type]
    warm_up = args.warm_up
    requests = [build(n) for n in range(args.requests + warm_up)]
    lifespan = app.router.lifespan_context(app)  # type: ignore[attr-defined]
    loop.run_until_complete(lifespan.__aenter__())
    loop.run_until_complete(_drive(driven, requests[:warm_up], args.concurrency))
    # callgrind collects inside operator.call only (--toggle-collect=_operator_call)
    measured = _drive(driven, requests[warm_up:], args.concurrency)
    statuses = operator.call(loop.run_until_complete, measured)
    loop.run_until_complete(lifespan.__aexit__(None, None, None))
    if args.kafka:
        loop.run_until_complete(producer.stop())
    loop.close()
    print(f"{args.target}: {args.requests} measured requests, statuses {statuses}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("chat", "phone"), default="chat")
    parser.add_argument("--provider", default=None)
    parser.add_argument("--requests", type=int, default=300, help="measured requests")
    parser.add_argument(
        "--served",
        action="store_true",
        help="drive what the server calls (served_app: webhook POSTs through WebhookDoor), "
        "not the FastAPI app",
    )
    parser.add_argument(
        "--concurrency", type=int, default=1, help="requests in flight at once (connections)"
    )
    parser.add_argument(
        "--kafka",
        action="store_true",
        help="publish through the real WebhookEventProducer to KAFKA_BOOTSTRAP_SERVERS "
        "(with --concurrency 64: the producer's per-record cost at full throughput)",
    )
    parser.add_argument("--linger-ms", type=int, default=20, help="with --kafka")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=WARM_UP,
        help="requests before the measured ones; over 4,096 (a new customer each) the Kafka "
        "key cache is full, as in a service that has been running (KeyPartitioner)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())

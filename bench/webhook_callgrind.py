"""Instructions per webhook request inside the app, under callgrind (no HTTP, no Kafka).

The requests of ``bench/webhook_profile.py`` (same app, same signed requests, the
producer that encodes each CloudEvent and acks at once), one after the other; the
measured ones run inside ``operator.call`` so that callgrind collects exactly them::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/cg.out \
        .venv/bin/python -m bench.webhook_callgrind --target chat [--requests 300] [--served]
    # "Collected : N" on stderr: N / requests = instructions per request

Without valgrind it runs the same requests (a check that the harness works).
Instruction counts do not depend on the machine's speed or load, unlike
CPU-seconds; uvicorn's HTTP work and the Kafka client's come on top.
"""

from __future__ import annotations

import argparse
import asyncio
import operator
from typing import Any

from bench.webhook_profile import WARM_UP, EncodingProducer, _app, _call
from libs.common.webhooks.fastpath import served_app


async def _drive(app: Any, requests: list[Any]) -> dict[int, int]:
    statuses: dict[int, int] = {}
    for request in requests:
        status = await _call(app, request)
        statuses[status] = statuses.get(status, 0) + 1
    return statuses


def main(args: argparse.Namespace) -> None:
    producer = EncodingProducer()
    app, build = _app(args.target, args.provider, producer)
    driven = served_app(app) if args.served else app  # type: ignore[arg-type]
    requests = [build(n) for n in range(args.requests + WARM_UP)]
    loop = asyncio.new_event_loop()
    lifespan = app.router.lifespan_context(app)  # type: ignore[attr-defined]
    loop.run_until_complete(lifespan.__aenter__())
    loop.run_until_complete(_drive(driven, requests[:WARM_UP]))
    # callgrind collects inside operator.call only (--toggle-collect=_operator_call)
    statuses = operator.call(loop.run_until_complete, _drive(driven, requests[WARM_UP:]))
    loop.run_until_complete(lifespan.__aexit__(None, None, None))
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
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())

"""Webhook CPU per request inside the app, without HTTP or Kafka: where the time goes.

Drives the service's own ASGI app (``create_app`` with an injected producer
that encodes each CloudEvent exactly as the Kafka producer does, then returns)
with the same signed requests ``bench/webhook_load.py`` sends, one after the
other, and prints microseconds per request and, with ``--profile``, the
functions that take the most cumulative time (cProfile). This is the part of
a request the service can change; uvicorn's HTTP work and the Kafka client's
come on top (``webhook_load.py`` measures the whole).

    python -m bench.webhook_profile --target chat|phone [--provider …] [--requests 3000]
        [--concurrency 64 | --rate 500] [--kafka [--linger-ms 5]] [--profile [--sort tottime]]

``--kafka`` publishes through the real ``WebhookEventProducer`` to the broker
(``KAFKA_BOOTSTRAP_SERVERS``, else the local one), so the Kafka client's CPU
per request shows too; CPU per request is this process's CPU time (the
broker runs elsewhere).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import time
from collections.abc import Awaitable, Callable
from typing import Any

from libs.common.cloudevents import CloudEvent, Headers, encode

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
#: Requests sent before measuring (imports, caches, the topic's metadata).
WARM_UP = 200


class EncodingProducer:
    """Encodes like ``EventProducer.publish``, within a timer like its ``send``, and acks
    at once (no broker)."""

    #: As ``WebhookEventProducer.send_timeout_s``: chat_ingest builds it with its ack deadline.
    send_timeout_s = 2.5

    def __init__(self) -> None:
        self.published = 0

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> None:
        async with asyncio.timeout(self.send_timeout_s):  # noqa: ASYNC100 (its cost, modelled)
            encode(event)
        self.published += 1

    async def send(
        self, topic: str, value: bytes | None, *, key: str | bytes | None, headers: Headers
    ) -> None:
        self.published += 1


def _app(
    target: str, provider: str | None, producer: EncodingProducer
) -> tuple[Asgi, Callable[[int], Any]]:
    if target == "chat":
        from bench.webhook_load import chat_target
        from services.chat_ingest.bootstrap import create_app
        from services.chat_ingest.settings import ChatIngestSettings

        chat = chat_target(provider)
        settings = ChatIngestSettings.model_validate(
            {"integrations": json.loads(chat.service_env("t")["CHAT_INGEST_INTEGRATIONS"])}
        )
        return create_app(settings, publisher=producer), lambda seq: chat.build_request(seq, "")
    from bench.phone_payloads import build_request, service_env
    from services.phone_log.bootstrap import create_app as create_phone_app
    from services.phone_log.settings import PhoneLogSettings

    env = service_env("t")
    settings = PhoneLogSettings.model_validate(
        {
            "integrations": json.loads(env["PHONE_LOG_INTEGRATIONS"]),
            "public_base_url": env["PHONE_LOG_PUBLIC_BASE_URL"],
        }
    )
    options = {"provider": provider} if provider else {}
    return create_phone_app(settings, producer=producer), lambda seq: build_request(
        seq, "", **options
    )


async def _call(app: Asgi, request: Any) -> int:
    path, _, query = request.path.partition("?")
    headers = [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    headers.append((b"content-length", str(len(request.content)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": request.content, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    if args.kafka:
        producer: Any = await _kafka_producer(args.linger_ms)
    else:
        producer = EncodingProducer()
    app, build = _app(args.target, args.provider, producer)
    requests = [build(n) for n in range(args.requests + WARM_UP)]
    statuses: dict[int, int] = {}

    async def drive(batch: list[Any]) -> None:
        pending = iter(batch)

        async def one_connection() -> None:
            for request in pending:
                status = await _call(app, request)
                statuses[status] = statuses.get(status, 0) + 1

        await asyncio.gather(*(one_connection() for _ in range(args.concurrency)))

    async def drive_at_rate(batch: list[Any]) -> None:
        """Open loop: request n starts at n / rate s (each its own task), as a steady
        stream of webhooks arrives; what the producer can batch depends on that."""
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def one(request: Any) -> None:
            status = await _call(app, request)
            statuses[status] = statuses.get(status, 0) + 1

        tasks = []
        for n, request in enumerate(batch):
            delay = start + n / args.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(request)))
        await asyncio.gather(*tasks)

    if args.rate:
        drive = drive_at_rate  # type: ignore[assignment]

    lifespan = app.router.lifespan_context(app)  # type: ignore[attr-defined]
    async with lifespan:
        await drive(requests[:WARM_UP])  # imports, caches, the topic's metadata
        statuses.clear()
        profiler = cProfile.Profile() if args.profile else None
        models_before = _model_classes()
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        await drive(requests[WARM_UP:])
        if profiler:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        models_created = _model_classes() - models_before
    if args.kafka:
        await producer.stop()
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(45)
        print(out.getvalue())
    return {
        "target": args.target,
        "provider": args.provider or "default",
        "producer": "aiokafka (WebhookEventProducer), real broker" if args.kafka else "encode only",
        "requests": args.requests,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "linger_ms": args.linger_ms,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "wall_us_per_request": round(elapsed / args.requests * 1e6, 1),
        "cpu_us_per_request": round(cpu / args.requests * 1e6, 1),
        "profiled": args.profile,
        # 0 expected: a pydantic model class built per request would be pure waste
        "model_classes_created_while_measuring": models_created,
    }


def _model_classes() -> int:
    """pydantic model classes alive now (BaseModel's subclasses, recursively)."""
    from pydantic import BaseModel

    seen: set[type] = set()
    pending: list[type] = [BaseModel]
    while pending:
        for sub in pending.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                pending.append(sub)
    return len(seen)


async def _kafka_producer(linger_ms: int | None) -> Any:
    """A started WebhookEventProducer on a fresh topic; the apps read the topic from env."""
    from bench.common import bootstrap_servers
    from bench.webhook_load import _create_topic
    from libs.common.settings import KafkaSettings
    from libs.common.webhooks.producer import WebhookEventProducer

    bootstrap = bootstrap_servers()
    topic = await _create_topic(bootstrap)
    os.environ.update(KAFKA_BOOTSTRAP_SERVERS=bootstrap, KAFKA_TOPIC_INTERACTIONS=topic)
    producer = WebhookEventProducer(
        KafkaSettings(), client_id="bench-webhook-profile", linger_ms=linger_ms
    )
    await producer.start()
    return producer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("chat", "phone"), default="chat")
    parser.add_argument("--provider", default=None)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=1, help="Requests in flight.")
    parser.add_argument(
        "--kafka", action="store_true", help="Publish to the broker (KAFKA_BOOTSTRAP_SERVERS)."
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="Requests/s, open loop (instead of --concurrency connections one after another).",
    )
    parser.add_argument(
        "--linger-ms",
        type=int,
        default=None,
        help="With --kafka: the producer's linger (chat_ingest's publish_linger_ms; "
        "default KAFKA_LINGER_MS).",
    )
    parser.add_argument("--profile", action="store_true", help="Print the cProfile top 45.")
    parser.add_argument("--sort", default="cumulative", help="cProfile order (tottime, …).")
    parser.add_argument(
        "--log-level",
        default=None,
        help="Configure the service's JSON logging at this level (stderr), as the service "
        "process does; default: logging not configured (the app's INFO lines are dropped).",
    )
    args = parser.parse_args()
    if args.log_level:
        from libs.common.logging import configure_logging

        configure_logging(f"{args.target}-profile", level=args.log_level, fmt="json")
    print(json.dumps(asyncio.run(_run(args)), indent=2))


if __name__ == "__main__":
    main()

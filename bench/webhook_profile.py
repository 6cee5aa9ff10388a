"""Webhook CPU per request inside the app, without HTTP or Kafka: where the time goes.

Drives the service's own ASGI app (``create_app`` with an injected producer
that encodes each CloudEvent exactly as the Kafka producer does, then returns)
with the same signed requests ``bench/webhook_load.py`` sends, one after the
other, and prints microseconds per request and, with ``--profile``, the
functions that take the most cumulative time (cProfile). This is the part of
a request the service can change; uvicorn's HTTP work and the Kafka client's
come on top (``webhook_load.py`` measures the whole).

    python -m bench.webhook_profile --target chat|phone [--provider …] [--requests 3000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import time
from collections.abc import Awaitable, Callable
from typing import Any

from libs.common.cloudevents import CloudEvent, Headers, encode

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class EncodingProducer:
    """Encodes like ``EventProducer.publish`` and acks at once (no broker)."""

    def __init__(self) -> None:
        self.published = 0

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> None:
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
        from services.chat_ingest.app import create_app
        from services.chat_ingest.settings import ChatIngestSettings

        chat = chat_target(provider)
        settings = ChatIngestSettings.model_validate(
            {"integrations": json.loads(chat.service_env("t")["CHAT_INGEST_INTEGRATIONS"])}
        )
        return create_app(settings, publisher=producer), lambda seq: chat.build_request(seq, "")
    from bench.phone_payloads import build_request, service_env
    from services.phone_log.app import create_app as create_phone_app
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


async def _run(target: str, provider: str | None, count: int, profile: bool) -> dict[str, Any]:
    producer = EncodingProducer()
    app, build = _app(target, provider, producer)
    requests = [build(n) for n in range(count + 200)]
    statuses: dict[int, int] = {}
    lifespan = app.router.lifespan_context(app)  # type: ignore[attr-defined]
    async with lifespan:
        for request in requests[:200]:  # warm-up: imports, caches
            await _call(app, request)
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for request in requests[200:]:
            status = await _call(app, request)
            statuses[status] = statuses.get(status, 0) + 1
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        print(out.getvalue())
    return {
        "target": target,
        "provider": provider or "default",
        "requests": count,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "us_per_request": round(elapsed / count * 1e6, 1),
        "profiled": profile,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("chat", "phone"), default="chat")
    parser.add_argument("--provider", default=None)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true", help="Print the cProfile top 45.")
    args = parser.parse_args()
    print(
        json.dumps(
            asyncio.run(_run(args.target, args.provider, args.requests, args.profile)), indent=2
        )
    )


if __name__ == "__main__":
    main()

"""The console: inbox server time with 10,000 open conversations, and live-update latency.

    python -m bench.console [--conversations 10000] [--requests 200] [--rate 50] [--seconds 10]

Two figures:

- ``inbox``: ``GET /console/inbox`` as a supervisor (all 10,000 open) and as an agent
  (their queues), through the production app over the ASGI transport (no socket), the
  router's real SQLite store seeded through ``route_batch`` (the routing path itself).
  Target p99 < 300 ms.
- ``live``: signed WhatsApp webhooks POSTed to chat_ingest at ``--rate``/s → Kafka →
  router → outbox → the console's event stream → the page's ``/console/inbox/rows``
  fetch that shows the new conversation. Latency = webhook sent → that fetch answered
  with the customer in it (what the page's script does; browser paint not included).
  Target p99 < 1 s at 50 events/s. The whole system runs in this process on the real
  broker (``tests/browser/system.py``).

Both figures time services that run in this process, so its garbage collector is
theirs too and is not paused (that would hide their own collections). It is set as
``python -m services.<name>`` sets theirs after start-up: what start-up built is
frozen out of the collections (``libs.common.gc_tuning.freeze_startup_objects``).
Left unfrozen, every full collection walks the ~140,000 objects of all the services'
and the bench's modules at once, a pause no deployed service has. ``--bench-gc``
leaves the collector as it was before (nothing frozen).

Results: ``bench/results/console.json``. The machine is shared: figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

from bench.common import bootstrap_servers, latency_summary_ms, run_topic_names, write_result
from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from libs.common.gc_tuning import freeze_startup_objects
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.settings import KafkaSettings
from services.router.app import create_app
from services.router.runtime import RouterRuntime
from services.router.service.api_keys import Role, create_api_key
from services.router.service.interactions import Incoming, route_batch
from services.router.settings import RouterSettings
from tools.testing.system import free_port, run_topics


def _started(bench_gc: bool) -> None:
    """The services are up: freeze what start-up built, as their ``__main__`` does."""
    if not bench_gc:
        freeze_startup_objects()


def _kafka(prefix: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap_servers(), topics=run_topics(prefix))


def _mail(i: int, at: datetime) -> Interaction:
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=at,
        received_at=at,
        customer=CustomerIdentity(email=f"customer{i}@example.com", display_name=f"Customer {i}"),
        subject=f"Question {i}",
        body=MessageBody(text=f"Where is my deposit {i}? 입금 확인 부탁드립니다"),
        thread=ThreadHints(message_id=f"bench-{i}@mail"),
    )


async def _sign_in(client: httpx.AsyncClient, key: str) -> None:
    form = await client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    answer = await client.post("/console/login", data={"csrf": token, "api_key": key})
    assert answer.status_code == 303, answer.text


async def inbox(
    count: int, requests: int, folder: Path, *, bench_gc: bool = False
) -> dict[str, object]:
    kafka = _kafka("bench-console")
    await create_topics(kafka)
    settings = RouterSettings(
        database_url=f"sqlite+aiosqlite:///{folder / 'router.db'}",
        state_dir=folder,
        kafka=kafka,
        consumer_group=f"bench-{uuid.uuid4().hex[:8]}",
        csat_secret="bench-console-secret-0123456789",  # noqa: S106
        dev_mode=False,
        log_format="text",
    )
    runtime = RouterRuntime(settings, run_consumer=False, run_scheduler=False)
    await runtime.start()
    try:
        ctx = runtime.ctx
        assert ctx is not None
        started = time.perf_counter()
        base = datetime.now(UTC) - timedelta(hours=2)
        for first in range(0, count, 500):
            batch = [
                Incoming(f"bench-{i}", _mail(i, base + timedelta(milliseconds=i)))
                for i in range(first, min(first + 500, count))
            ]
            await route_batch(ctx, batch)
        seeded_s = time.perf_counter() - started
        app = create_app(settings)
        app.state.runtime = runtime
        keys = {
            "supervisor": await create_api_key(ctx, role=Role.SUPERVISOR, name="bench-lead"),
            "agent": await create_api_key(
                ctx, role=Role.AGENT, name="bench-agent", agent_id="agent-lee"
            ),
        }
        figures: dict[str, object] = {"open_conversations": count, "seeded_s": round(seeded_s, 1)}
        transport = httpx.ASGITransport(app=app)
        _started(bench_gc)
        for who, key in keys.items():
            async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
                await _sign_in(client, key)
                times = []
                for _ in range(requests):
                    t0 = time.perf_counter()
                    answer = await client.get("/console/inbox")
                    times.append(time.perf_counter() - t0)
                    assert answer.status_code == 200
                figures[who] = latency_summary_ms(times)
        return figures
    finally:
        await runtime.stop()
        await delete_topics(kafka, run_topic_names(kafka.topics))


class _Accept:
    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        return "250 OK"


async def live(
    rate: float, seconds: float, folder: Path, *, bench_gc: bool = False
) -> dict[str, object]:
    from tests.browser.system import console_system

    kafka = _kafka("bench-live")
    await create_topics(kafka)
    smtp_port = free_port()
    smtp = Controller(_Accept(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    all_seen = asyncio.Event()
    try:
        async with (
            console_system(kafka, folder, smtp_port) as system,
            httpx.AsyncClient(base_url=system.console_url.removesuffix("/console")) as page,
        ):
            await _sign_in(page, system.keys["supervisor"])
            _started(bench_gc)

            dirty = asyncio.Event()
            total = int(rate * seconds)

            async def refresh() -> None:
                # As the page's script: one fetch at a time, events meanwhile coalesce.
                while True:
                    await dirty.wait()
                    dirty.clear()
                    rows = await page.get("/console/inbox/rows")
                    now = time.perf_counter()
                    for name in re.findall(r"Bench (\d+)", rows.text):
                        seen.setdefault(name, now)
                    # Against every event of the phase, not those sent so far: set while
                    # sending, the wait below ended at once and the slowest went uncounted.
                    if len(seen) >= total:
                        all_seen.set()

            async def follow() -> None:
                async with page.stream("GET", "/console/events", timeout=None) as stream:
                    async for line in stream.aiter_lines():
                        if line.startswith("data:") and json.loads(line[5:])["conversation_id"]:
                            dirty.set()

            follower = asyncio.create_task(follow())
            refresher = asyncio.create_task(refresh())
            await asyncio.sleep(1)
            start = time.perf_counter()
            posts = []
            for i in range(total):
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
                sent[str(i)] = time.perf_counter()
                wa_id = f"8210{55000000 + i}"
                webhook = system.whatsapp_message(wa_id, f"Bench {i}", "배송 문의")
                posts.append(asyncio.create_task(webhook))
            await asyncio.gather(*posts)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(all_seen.wait(), timeout=30)
            follower.cancel()
            refresher.cancel()
    finally:
        smtp.stop()
        await delete_topics(kafka, run_topic_names(kafka.topics))
    latencies = [seen[k] - sent[k] for k in sent if k in seen]
    return {
        "rate_per_s": rate,
        "events": len(sent),
        "seen": len(latencies),
        **latency_summary_ms(latencies),
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        figures: dict[str, object] = {
            "inbox": await inbox(
                args.conversations, args.requests, Path(folder) / "inbox", bench_gc=args.bench_gc
            )
        }
        (Path(folder) / "live").mkdir()
        figures["live"] = await live(
            args.rate, args.seconds, Path(folder) / "live", bench_gc=args.bench_gc
        )
    figures["start_up_objects"] = "as collected before (--bench-gc)" if args.bench_gc else "frozen"
    write_result("console", figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--bench-gc",
        action="store_true",
        help="leave the collector as before: the start-up objects not frozen, so each full "
        "collection walks all the in-process services' modules at once",
    )
    asyncio.run(main(parser.parse_args()))

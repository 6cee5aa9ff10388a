"""Agent replies: API → provider accepted (latency at a fixed rate), and notifier outbound/s.

    python -m bench.replies [--rate 200] [--seconds 30] [--count 300]

Two figures:

- ``reply_api``: ``POST /conversations/{id}/replies`` at ``--rate`` replies/s for
  ``--seconds`` against the whole path — router, notifier and chat_ingest as their
  own processes (``python -m services.<name>``, SQLite router store), the real Kafka
  broker, and the strict Telegram fixture on 127.0.0.1 in this process. Latency = from sending
  the API request to the fixture recording the ``sendMessage`` it accepted
  (target p99 < 300 ms at 200 replies/s, architecture §8). Also how many replies the
  router saw ``accepted`` by the end. Both ends are stamped in this process (the
  fixture is served here), so its garbage collector is paused while it offers and
  waits (``bench.common.bench_gc_paused``; ``--bench-gc`` leaves it on, as before): a
  full collection here walks ~160,000 objects (the provider fixtures, the notifier's
  modules), stalling both the schedule and the fixture's accepting.
- ``notifier_outbound``: the notifier's handler alone (plan, sent-log claim in
  SQLite, build, send with the production sender, record, outcome in memory),
  one event after another as the consumer runs them, per provider fixture.

Everything shares the (2-core) machine with the broker, so figures are a floor.
Results: ``bench/results/replies.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from bench.common import (
    bench_gc_paused,
    bootstrap_servers,
    latency_summary_ms,
    run_topic_names,
    write_result,
)
from libs.common.events import AgentRef, AgentReplyRequested, Channel, ReplyPath, utc_now
from libs.common.kafka.admin import create_topics, delete_topics
from libs.common.settings import KafkaSettings
from libs.providers.integrations import Provider
from services.notifier.bootstrap import build_composer, handler_config
from services.notifier.chat import build_chat_senders
from services.notifier.handler import NotificationHandler
from services.notifier.samples import snapshot
from services.notifier.sentlog import SentLog
from services.notifier.settings import NotifierSettings
from tests.e2e.two_way import eventually, telegram_integrations_json, telegram_text_update
from tests.provider_fakes import ProviderFakes
from tests.provider_fakes.messages import ADDRESSES
from tools.testing.postgres import postgres_for_tests
from tools.testing.system import LocalSystem, free_port, run_topics

OUTBOUND_PROVIDERS = [
    Provider.TELEGRAM,
    Provider.WHATSAPP,
    Provider.TWILIO,
    Provider.LINE,
    Provider.SLACK,
    Provider.CHANNELTALK,
]
CUSTOMERS = 3  # agent-lee takes 3 chats: nothing waits in a queue during the run
ADMIN = "bench-replies-admin-key-0123456789"


# --- reply API → provider accepted ---------------------------------------------------


async def open_conversations(
    http: httpx.AsyncClient, chat_url: str, router_url: str, secret: str, count: int
) -> list[str]:
    for n in range(count):
        update = telegram_text_update(10_000 + n, 800_000_000 + n, f"문의드립니다 {n}")
        answer = await http.post(
            f"{chat_url}/webhooks/telegram/tg",
            json=update,
            headers={"x-telegram-bot-api-secret-token": secret},
        )
        answer.raise_for_status()

    async def opened() -> list[str] | None:
        page = await http.get(
            f"{router_url}/conversations",
            params={"channel": "chat", "limit": 200},
            headers={"X-API-Key": ADMIN},
        )
        ids = [c["id"] for c in page.json()["items"]]
        return ids if len(ids) >= count else None

    return await eventually(opened, f"{count} conversations")


class MailSink:
    """Agent notices (assignments) go to a real local SMTP server, counted and dropped."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.count += 1
        return "250 OK"


async def reply_latency(
    kafka: KafkaSettings,
    rate: float,
    seconds: float,
    database_url: str | None = None,
    *,
    bench_gc: bool = False,
) -> dict[str, Any]:
    """Router, notifier and chat_ingest as their own processes (as deployed)."""
    port = free_port()
    smtp = Controller(MailSink(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with ProviderFakes() as fakes:
                integrations = telegram_integrations_json(fakes)
                system = LocalSystem(
                    home=Path(folder),
                    kafka=kafka,
                    smtp_port=port,
                    router_database_url=database_url
                    or f"sqlite+aiosqlite:///{Path(folder) / 'router.db'}",
                    admin_key=ADMIN,
                    extra_env={
                        "notifier": {
                            "NOTIFIER_INTEGRATIONS": integrations,
                            "NOTIFIER_WEBCHAT_PORT": "0",
                        },
                        "chat_ingest": {
                            "CHAT_INGEST_INTEGRATIONS": integrations,
                            "CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY": "false",
                        },
                    },
                )
                try:
                    for name in ("router", "notifier", "chat_ingest"):
                        await asyncio.to_thread(system.start, name, timeout=90)
                    secret = fakes.integration(Provider.TELEGRAM, id="tg").secret_value()
                    return await _offer(system, fakes, secret, rate, seconds, bench_gc=bench_gc)
                finally:
                    await asyncio.to_thread(system.stop_all)
    finally:
        smtp.stop()


async def _offer(
    system: LocalSystem,
    fakes: ProviderFakes,
    secret: str,
    rate: float,
    seconds: float,
    *,
    bench_gc: bool = False,
) -> dict[str, Any]:
    router = system.url("router")
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        online = await http.put(
            f"{router}/agents/agent-lee/status",
            json={"status": "online"},
            headers={"X-API-Key": ADMIN},
        )
        online.raise_for_status()
        conversations = await open_conversations(
            http, system.url("chat_ingest"), router, secret, CUSTOMERS
        )
        telegram = fakes.telegram
        await asyncio.sleep(2)  # acknowledgements out of the way
        telegram.reset()
        sent_at: dict[str, float] = {}
        api_seconds: list[float] = []

        async def one(seq: int) -> None:
            text = f"bench reply {seq}"
            started = time.perf_counter()
            sent_at[text] = time.time()
            answer = await http.post(
                f"{router}/conversations/{conversations[seq % len(conversations)]}/replies",
                json={"text": text, "agent_id": "agent-lee"},
                headers={"X-API-Key": ADMIN},
            )
            api_seconds.append(time.perf_counter() - started)
            answer.raise_for_status()

        total = int(rate * seconds)
        tasks: list[asyncio.Task[None]] = []

        async def all_accepted() -> bool:
            return len(telegram.accepted) >= total

        with nullcontext() if bench_gc else bench_gc_paused():
            began = time.perf_counter()
            for seq in range(total):  # open loop: a fixed schedule, not "as fast as answered"
                delay = began + seq / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(seq)))
            await asyncio.gather(*tasks)
            offered_s = time.perf_counter() - began
            with contextlib.suppress(TimeoutError):
                await eventually(all_accepted, "every reply at the fixture")
    latencies = [
        r.at.timestamp() - sent_at[r.body["text"]]
        for r in telegram.accepted
        if r.body.get("text") in sent_at
    ]
    return {
        "rate_offered_per_s": round(total / offered_s, 1),
        "replies": total,
        "accepted_by_fixture": len(latencies),
        "api_answer": latency_summary_ms(api_seconds),
        "api_to_provider_accepted": latency_summary_ms(latencies),
        "target_p99_ms": 300,
        "bench_gc": "on (--bench-gc)" if bench_gc else "paused while timing",
    }


# --- notifier outbound per provider ------------------------------------------------------


def reply_event(provider: Provider, seq: int) -> AgentReplyRequested:
    path = ReplyPath(provider=provider.value, integration="main", address=ADDRESSES[provider])
    conv = snapshot(channel=Channel.CHAT).model_copy(
        update={"reply_path": path, "customer_last_inbound_at": utc_now() - timedelta(minutes=1)}
    )
    return AgentReplyRequested(
        conversation=conv,
        occurred_at=utc_now(),
        reply_id=f"r-{provider.value}-{seq}",
        agent=AgentRef(agent_id="a-1", name="Lee"),
        text=f"답변 {seq}: 입금 확인되었습니다.",
    )


class Collected:
    def __init__(self) -> None:
        self.statuses: dict[str, int] = {}

    async def publish(self, outcome: Any) -> None:
        self.statuses[outcome.status.value] = self.statuses.get(outcome.status.value, 0) + 1


class NoMail:
    async def send(self, mail: Any) -> None:
        raise AssertionError("no mail in this benchmark")

    async def post(self, request: Any) -> None:
        raise AssertionError("no webhooks in this benchmark")


async def notifier_outbound(count: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with ProviderFakes() as fakes, httpx.AsyncClient() as client:
        for provider in OUTBOUND_PROVIDERS:
            fakes.reset()
            if provider is Provider.WHATSAPP:
                fakes.whatsapp.customer_wrote(ADDRESSES[provider])
            with tempfile.TemporaryDirectory() as folder:
                settings = NotifierSettings(state_dir=Path(folder), probe_port=0)
                sentlog = SentLog(settings.resolved_sentlog_url())
                await sentlog.open()
                outcomes = Collected()
                handler = NotificationHandler(
                    config=handler_config(settings),
                    composer=build_composer(settings),
                    sentlog=sentlog,
                    smtp=NoMail(),
                    webhooks=NoMail(),
                    outcomes=outcomes,
                    chat=build_chat_senders([fakes.integration(provider)], client),
                )
                events = [reply_event(provider, n) for n in range(count)]
                seconds: list[float] = []
                began = time.perf_counter()
                for n, event in enumerate(events):
                    started = time.perf_counter()
                    await handler.handle(f"ev-{provider.value}-{n}", event)
                    seconds.append(time.perf_counter() - started)
                elapsed = time.perf_counter() - began
                await sentlog.close()
            results[provider.value] = {
                "notices_per_s": round(count / elapsed, 1),
                "outcomes": outcomes.statuses,
                "fixture_accepted": len(getattr(fakes, provider.value).accepted),
                **latency_summary_ms(seconds),
            }
    return results


async def run(
    rate: float, seconds: float, count: int, postgres: bool, *, bench_gc: bool = False
) -> dict[str, Any]:
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap_servers(), topics=run_topics("bench", replication_factor=1)
    )
    await create_topics(kafka)
    try:
        if postgres:
            with postgres_for_tests() as server:
                api = await reply_latency(
                    kafka, rate, seconds, server.create_database(), bench_gc=bench_gc
                )
        else:
            api = await reply_latency(kafka, rate, seconds, bench_gc=bench_gc)
    finally:
        await delete_topics(kafka, run_topic_names(kafka.topics))
    return {
        "reply_api": {**api, "router_store": "postgresql" if postgres else "sqlite"},
        "notifier_outbound": await notifier_outbound(count),
        "parameters": {"rate": rate, "seconds": seconds, "count": count, "postgres": postgres},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="replies per second offered")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to offer them")
    parser.add_argument("--count", type=int, default=300, help="notices per provider")
    parser.add_argument(
        "--postgres", action="store_true", help="router on PostgreSQL (a local test server)"
    )
    parser.add_argument(
        "--bench-gc",
        action="store_true",
        help="leave this process's garbage collector on while reply_api times (as before; "
        "its pauses then show as latency: bench.common.bench_gc_paused)",
    )
    args = parser.parse_args()
    figures = asyncio.run(
        run(args.rate, args.seconds, args.count, args.postgres, bench_gc=args.bench_gc)
    )
    write_result("replies", figures)


if __name__ == "__main__":
    main()

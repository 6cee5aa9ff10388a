"""Outbound ceiling per provider: the production sender against its strict local fixture.

Every provider fixture (tests/provider_fakes) runs in this process on
127.0.0.1; the production senders send ``--count`` replies each with
``--concurrency`` in flight through one shared httpx client. The figure is the
cost of our side (build, HTTP round trip on loopback, classify) plus the
fixture's checks — a ceiling for the notifier's per-provider throughput, not
a prediction of the providers' own latency.

    python -m bench.provider_senders [--count 500] [--concurrency 20]

Results: ``bench/results/provider_senders.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx

from bench.common import latency_summary_ms, write_result
from libs.common.events.base import utc_now
from libs.providers.integrations import Provider
from libs.providers.outbound import OutboundMessage, SendVerdict
from libs.providers.registry import make_sender
from tests.provider_fakes import ProviderFakes
from tests.provider_fakes.messages import ADDRESSES, reply

PROVIDERS = [
    Provider.TELEGRAM,
    Provider.WHATSAPP,
    Provider.TWILIO,
    Provider.LINE,
    Provider.SLACK,
    Provider.CHANNELTALK,
    Provider.KAKAO,
]


def message(fakes: ProviderFakes, provider: Provider, seq: int) -> OutboundMessage:
    parts: dict[str, Any] = {}
    if provider is Provider.KAKAO:  # one callback per reply, as Kakao issues them
        url, expires = fakes.kakao.issue_callback()
        parts.update(callback_url=url, callback_expires_at=expires)
    return reply(
        provider,
        text=f"답변 {seq}: 입금 확인되었습니다.",
        key=f"bench-{provider.value}-{seq}",
        last_inbound=utc_now() - timedelta(minutes=1),
        **parts,
    )


async def run_provider(
    fakes: ProviderFakes, client: httpx.AsyncClient, provider: Provider, count: int, limit: int
) -> dict[str, Any]:
    sender = make_sender(fakes.integration(provider), client)
    if provider is Provider.WHATSAPP:
        fakes.whatsapp.customer_wrote(ADDRESSES[provider])
    messages = [message(fakes, provider, seq) for seq in range(count)]
    gate = asyncio.Semaphore(limit)
    latencies: list[float] = []
    verdicts: dict[str, int] = {}

    async def one(item: OutboundMessage) -> None:
        async with gate:
            started = time.perf_counter()
            outcome = await sender.send(item)
            latencies.append(time.perf_counter() - started)
            verdicts[outcome.verdict.value] = verdicts.get(outcome.verdict.value, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one(m) for m in messages))
    elapsed = time.perf_counter() - started
    accepted = verdicts.get(SendVerdict.ACCEPTED.value, 0)
    return {
        "sent_per_s": round(accepted / elapsed, 1),
        "verdicts": verdicts,
        "fixture_accepted": len(getattr(fakes, provider.value).accepted),
        **latency_summary_ms(latencies),
    }


async def run(count: int, concurrency: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with ProviderFakes() as fakes, httpx.AsyncClient() as client:
        for provider in PROVIDERS:
            fakes.reset()
            results[provider.value] = await run_provider(
                fakes, client, provider, count, concurrency
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="Replies per provider.")
    parser.add_argument("--concurrency", type=int, default=20, help="Sends in flight.")
    args = parser.parse_args()
    providers = asyncio.run(run(args.count, args.concurrency))
    write_result(
        "provider_senders",
        {"count": args.count, "concurrency": args.concurrency, "providers": providers},
    )


if __name__ == "__main__":
    main()

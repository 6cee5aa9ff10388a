"""kill -9 of the notifier during a burst of chat replies: every reply still goes out.

router, notifier and chat_ingest run as processes (``python -m services.<name>``)
on the real broker; the strict Telegram fixture runs in this process. The
notifier is killed while replies are being sent and started again.

Telegram's Bot API has no idempotency key: a kill between Telegram's 2xx and
the sent-log's ``sent`` commit re-sends that message after
``NOTIFIER_CLAIM_LEASE_S`` (the documented residual window, as for SMTP). The
notifier sends to ``NOTIFIER_CHAT_CONCURRENCY`` conversations at once (each in
order), so up to that many messages can be in that window: the test allows that
many duplicates and no loss at all (with one message per partition in flight,
before the bound: 0, 0, 3, 2, 3 and 0 duplicates of 60 in six runs).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from libs.providers.integrations import Provider
from tests.e2e.two_way import eventually, telegram_integrations_json, telegram_text_update
from tests.provider_fakes.server import ProviderFakes
from tools.testing.system import LocalSystem

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

CUSTOMERS = 10
REPLIES_PER_CUSTOMER = 6
IN_FLIGHT = 4  # NOTIFIER_CHAT_CONCURRENCY: conversations sent to at once


async def test_kill_9_notifier_during_a_burst_of_chat_replies(kafka_topics, tmp_path, smtp_inbox):
    _, smtp_port = smtp_inbox
    async with ProviderFakes() as fakes:
        integrations = telegram_integrations_json(fakes)
        system = LocalSystem(
            home=tmp_path,
            kafka=kafka_topics,
            smtp_port=smtp_port,
            router_database_url=f"sqlite+aiosqlite:///{tmp_path / 'router.db'}",
            extra_env={
                "notifier": {
                    "NOTIFIER_INTEGRATIONS": integrations,
                    "NOTIFIER_WEBCHAT_PORT": "0",
                    "NOTIFIER_CLAIM_LEASE_S": "5",
                    "NOTIFIER_CHAT_CONCURRENCY": str(IN_FLIGHT),
                    "NOTIFIER_GROUP_ID": f"notifier-{uuid.uuid4().hex[:8]}",
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
            await _burst_with_a_kill(system, fakes)
        finally:
            await asyncio.to_thread(system.stop_all)


async def _burst_with_a_kill(system: LocalSystem, fakes: ProviderFakes) -> None:
    admin = {"X-API-Key": system.admin_key}
    router, chat = system.url("router"), system.url("chat_ingest")
    secret = fakes.integration(Provider.TELEGRAM, id="tg").secret_value()
    telegram = fakes.telegram
    async with httpx.AsyncClient(timeout=30) as http:
        online = await http.put(
            f"{router}/agents/agent-lee/status", json={"status": "online"}, headers=admin
        )
        online.raise_for_status()
        for n in range(CUSTOMERS):
            update = telegram_text_update(70_000 + n, 900_000_000 + n, f"문의드립니다 {n}")
            answer = await http.post(
                f"{chat}/webhooks/telegram/tg",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            )
            assert answer.status_code == 200, answer.text

        async def conversations() -> list[str] | None:
            page = await http.get(
                f"{router}/conversations", params={"channel": "chat"}, headers=admin
            )
            ids = [c["id"] for c in page.json()["items"]]
            return ids if len(ids) == CUSTOMERS else None

        ids = await eventually(conversations, "the conversations")
        await eventually(lambda: _at_least(telegram, CUSTOMERS), "the acknowledgements")
        before = len(telegram.accepted)

        texts = [f"답변 {c}-{r}" for c in range(CUSTOMERS) for r in range(REPLIES_PER_CUSTOMER)]
        replies = await asyncio.gather(
            *(
                http.post(
                    f"{router}/conversations/{ids[i % CUSTOMERS]}/replies",
                    json={"text": text, "agent_id": "agent-lee"},
                    headers=admin,
                )
                for i, text in enumerate(texts)
            )
        )
        assert all(r.status_code == 202 for r in replies)
        await eventually(lambda: _at_least(telegram, before + len(texts) // 4), "a quarter sent")
        await asyncio.to_thread(system.kill, "notifier")  # SIGKILL mid-burst
        killed_after = len(telegram.accepted) - before
        await asyncio.to_thread(system.start, "notifier", timeout=90)

        async def all_accepted() -> bool:
            states: list[str] = []
            for conversation_id in ids:
                rows = await http.get(
                    f"{router}/conversations/{conversation_id}/replies", headers=admin
                )
                states += [r["state"] for r in rows.json()]
            return len(states) == len(texts) and set(states) == {"accepted"}

        await eventually(all_accepted, "every reply accepted")

    received = Counter(r.body["text"] for r in telegram.accepted[before:])
    lost = [t for t in texts if received[t] == 0]
    twice = {t: n for t, n in received.items() if n > 1}
    print(
        f"KILL-9 CHAT BURST: {len(texts)} replies, {killed_after} sent before the kill, "
        f"lost {len(lost)}, sent twice {len(twice)} {twice}"
    )
    assert lost == []
    assert len(twice) <= IN_FLIGHT and all(n == 2 for n in twice.values()), twice
    assert telegram.refused == []


async def _at_least(fake, count: int) -> bool:
    return len(fake.accepted) >= count

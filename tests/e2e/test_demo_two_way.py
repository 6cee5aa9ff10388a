"""`omnidesk demo`'s two-way part against the services as processes (no mailbox needed).

The Telegram customer gets a chat acknowledgement stating the promise, the agent's
reply (accepted by Telegram — here the local Telegram sink `dev up` runs), the
survey as buttons, and their tap is recorded as CSAT.
"""

from __future__ import annotations

import asyncio

import pytest

from services.notifier.chat_sink import serve
from tools.cli.dev import dev_chat_integrations
from tools.demo.scenario import DemoTarget, play
from tools.testing.system import LocalSystem, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


async def test_the_telegram_customer_is_answered_acknowledged_and_surveyed(
    kafka_topics, tmp_path, smtp_inbox
):
    _, smtp_port = smtp_inbox
    sink_port, sink_file = free_port(), tmp_path / "chat-sink.jsonl"
    stop = asyncio.Event()
    sink = asyncio.create_task(serve(stop, host="127.0.0.1", port=sink_port, path=sink_file))
    system = LocalSystem(
        home=tmp_path,
        kafka=kafka_topics,
        smtp_port=smtp_port,
        router_database_url=f"sqlite+aiosqlite:///{tmp_path / 'router.db'}",
        extra_env={
            "notifier": {
                "NOTIFIER_INTEGRATIONS": dev_chat_integrations(sink_port),
                "NOTIFIER_WEBCHAT_PORT": "0",
            },
            "chat_ingest": {"CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY": "true"},
            "phone_log": {"PHONE_LOG_DEV_SAMPLES": "true"},
        },
    )
    lines: list[str] = []
    try:
        for name in ("router", "notifier", "chat_ingest", "phone_log"):
            await asyncio.to_thread(system.start, name, timeout=90)
        target = DemoTarget(
            chat_url=system.url("chat_ingest"),
            phone_url=system.url("phone_log"),
            router_url=system.url("router"),
            api_key=system.admin_key,
            kafka=kafka_topics,
            mailbox=None,
            two_way=True,
            chat_sink_file=sink_file,
        )
        await play(target, lines.append)
    finally:
        await asyncio.to_thread(system.stop_all)
        stop.set()
        await sink
    print("\n".join(lines))
    text = "\n".join(lines)
    assert "state queued" in text
    assert "Telegram accepted it at" in text and "the clock stopped when Telegram accepted" in text
    assert "Thank you for contacting" in text and "We aim to answer within 5 minutes" in text
    assert "Hi Emma, we reset your login" in text
    assert "[1] [2] [3] [4] [5]" in text
    assert "CSAT recorded: 1 answer(s), average 5.0" in text

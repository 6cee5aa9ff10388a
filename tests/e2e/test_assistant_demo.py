"""`omnidesk demo`'s assistant step against the services as processes (and the assistant).

A routine question is answered on Telegram (the local sink `dev up` runs) with its
buttons; a complaint is handed to a person and assigned.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from services.assistant.bootstrap import run as run_assistant
from services.assistant.settings import AssistantSettings
from services.notifier.chat_sink import serve
from tools.cli.dev import dev_chat_integrations
from tools.demo.assistant import assistant_step
from tools.demo.scenario import DemoRun, DemoTarget, _agents_online
from tools.testing.system import LocalSystem, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


async def test_the_demo_shows_an_answer_and_a_handoff(kafka_topics, tmp_path, smtp_inbox):
    _, smtp_port = smtp_inbox
    sink_port, sink_file = free_port(), tmp_path / "chat-sink.jsonl"
    stop = asyncio.Event()
    sink = asyncio.create_task(serve(stop, host="127.0.0.1", port=sink_port, path=sink_file))
    assistant = asyncio.create_task(
        run_assistant(
            AssistantSettings(kafka=kafka_topics, probe_port=0, group_id=f"a-{uuid.uuid4().hex}"),
            stop,
        )
    )
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
        },
    )
    lines: list[str] = []
    try:
        for name in ("router", "notifier", "chat_ingest"):
            await asyncio.to_thread(system.start, name, timeout=90)
        target = DemoTarget(
            chat_url=system.url("chat_ingest"),
            phone_url="http://127.0.0.1:9",
            router_url=system.url("router"),
            api_key=system.admin_key,
            kafka=kafka_topics,
            mailbox=None,
            assistant=True,
            chat_sink_file=sink_file,
        )
        run = DemoRun(run_id=str(int(time.time() * 1000)), started_at=datetime.now(UTC))
        async with httpx.AsyncClient(timeout=15) as http:
            await _agents_online(http, target, lines.append)
            await assistant_step(http, target, run, lines.append)
    finally:
        await asyncio.to_thread(system.stop_all)
        stop.set()
        await sink
        with contextlib.suppress(asyncio.CancelledError):
            await assistant
    print("\n".join(lines))
    text = "\n".join(lines)
    assert "the assistant answered" in text and "[도움이 됐어요] [상담원 연결]" in text
    assert "handed to a person" in text and "(faq queue)" in text
    assert "offered 2, resolved 0, handed off 1 {'complaint': 1}" in text

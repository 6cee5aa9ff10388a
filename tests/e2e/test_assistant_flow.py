"""The assistant answers on the customer's channel and hands off, end to end on the real broker.

signed Telegram webhook → chat_ingest → Kafka → router (held for the assistant, not
assigned) → AssistantTurnRequested → the assistant (its production ``run`` with the
shipped sample KB) → AssistantAnswered → router → AssistantReplyRequested → notifier →
the strict Telegram fixture gets the answer with its buttons → "아니요 상담원 연결해주세요"
→ AssistantHandedOff → router assigns an agent; the first-response clock still runs from
the first message. A second customer taps "도움이 됐어요": resolved by the assistant, and
``GET /reports/assistant`` shows it as deflected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from datetime import datetime, timedelta

import pytest

from libs.providers.integrations import Provider
from services.assistant.bootstrap import run as run_assistant
from services.assistant.settings import AssistantSettings
from tests.e2e.two_way import TwoWaySystem, eventually, telegram_text_update, two_way_system

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

FIRST, SECOND = 700_555_001, 700_555_002


async def post(system: TwoWaySystem, update: dict[str, object]) -> None:
    secret = system.fakes.integration(Provider.TELEGRAM, id="faq").secret_value()
    answer = await system.ingest.post(
        "/webhooks/telegram/faq",
        content=json.dumps(update).encode(),
        headers={"content-type": "application/json", "x-telegram-bot-api-secret-token": secret},
    )
    assert answer.status_code == 200, answer.text


def tap(update_id: int, user: int, data: str) -> dict[str, object]:
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cbq-{update_id}",
            "from": {"id": user, "is_bot": False, "first_name": "K"},
            "message": {
                "message_id": 1,
                "chat": {"id": user, "type": "private"},
                "date": int(time.time()),
            },
            "chat_instance": f"ci-{user}",
            "data": data,
        },
    }


def sent_to(system: TwoWaySystem, user: int) -> list[dict]:
    return [r.body for r in system.fakes.telegram.accepted if r.body["chat_id"] == str(user)]


def arrived(system: TwoWaySystem, user: int):
    async def probe() -> list[dict]:
        return sent_to(system, user)

    return probe


def buttons(message: dict) -> dict[str, str]:
    keyboard = message["reply_markup"]["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in keyboard for b in row}


async def only_chat_conversation(system: TwoWaySystem) -> dict:
    page = await system.api.get("/conversations", params={"channel": "chat"}, headers=system.admin)
    [item] = page.json()["items"]
    return item


async def test_answer_handoff_and_deflection_end_to_end(kafka_topics, tmp_path, smtp_inbox):
    _, smtp_port = smtp_inbox
    stop = asyncio.Event()
    assistant = asyncio.create_task(
        run_assistant(
            AssistantSettings(
                kafka=kafka_topics, probe_port=0, group_id=f"assistant-{uuid.uuid4().hex[:8]}"
            ),
            stop,
        )
    )
    try:
        async with two_way_system(
            kafka_topics,
            tmp_path,
            smtp_port,
            lambda fakes, _url: [fakes.integration(Provider.TELEGRAM, id="faq")],
        ) as system:
            await post(system, telegram_text_update(9001, FIRST, "출금이 3시간째 안 들어와요 ㅠㅠ"))
            [answer] = await eventually(arrived(system, FIRST), "the assistant's answer")
            assert "도움이 되었나요" in answer["text"]
            assert set(buttons(answer)) == {"도움이 됐어요", "상담원 연결"}
            held = await only_chat_conversation(system)
            assert held["assignee_id"] is None and held["queue"] == "faq"

            await post(system, telegram_text_update(9002, FIRST, "아니요 상담원 연결해주세요"))
            assigned = await system.conversation_for("telegram")
            assert assigned["id"] == held["id"]
            detail = await system.detail(assigned["id"])
            assert detail["first_response_at"] is None  # the answer was not a person's
            opened = datetime.fromisoformat(detail["opened_at"])
            due = datetime.fromisoformat(detail["first_response_due_at"])
            assert due - opened == timedelta(minutes=5)  # from the customer's first message
            handoff = [e for e in detail["timeline"] if e["type"] == "internal.assistant_handoff"]
            assert handoff, [e["type"] for e in detail["timeline"]]
            assert "asked_for_person" in handoff[0]["detail"]["note"]
            assert len(sent_to(system, FIRST)) == 1  # no acknowledgement, one answer

            await post(system, telegram_text_update(9003, SECOND, "OTP 재설정 어떻게 해요?"))
            [second] = await eventually(arrived(system, SECOND), "the second answer")
            await post(system, tap(9004, SECOND, buttons(second)["도움이 됐어요"]))

            async def deflected() -> dict | None:
                report = await system.api.get("/reports/assistant", headers=system.admin)
                assert report.status_code == 200, report.text
                body = report.json()
                return body if body["resolved"] == 1 else None

            report = await eventually(deflected, "the deflection in the report")
            assert report["offered"] == 2 and report["handed_off"] == 1
            assert report["deflection_rate"] == 0.5
            assert report["handoff_reasons"] == {"asked_for_person": 1}
            assert report["resolutions"] == {"customer_confirmed": 1}
            assert report["answers_per_article"] == {"withdrawal-pending": 1, "reset-2fa": 1}
            assert system.fakes.telegram.refused == []
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await assistant

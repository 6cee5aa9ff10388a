"""Assistant turns on the console timeline, and its report on the reports page (#13):
the same ``assistant_report`` that ``GET /reports/assistant`` serves, with a CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from libs.common.events.assistant import (
    AssistantAnswered,
    AssistantHandedOff,
    AssistantResolved,
    AssistantTurnRequested,
)
from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ReplyPath,
)
from services.router.service.assistant_flow import AssistantIncoming, apply_assistant_events
from services.router.service.interactions import Incoming, route_batch
from services.router.store.models import InteractionRecord, OutboxRow
from tests.integration.console.test_pages import console, signed_in

__all__ = ["console"]
pytestmark = pytest.mark.integration

UNANSWERED = "회사 주소가 어디예요 <script>alert(1)</script>"


def telegram(now, text: str, user: int) -> Interaction:
    return Interaction(
        channel=Channel.CHAT,
        provider="telegram",
        integration="faq",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(handle=f"telegram:{user}", display_name="assistant"),
        body=MessageBody(text=text),
        reply_path=ReplyPath(provider="telegram", integration="faq", address=str(user)),
    )


async def turn_for(ctx, event_id: str) -> tuple[str, AssistantTurnRequested]:
    async with ctx.uow.reader() as uow:
        rows = await uow.session.scalars(
            select(OutboxRow).where(OutboxRow.ce_type.like("%assistant.turn%"))
        )
        turns = [
            (r.event_id, AssistantTurnRequested.model_validate(json.loads(r.payload))) for r in rows
        ]
    return next((i, t) for i, t in turns if t.turn_id == event_id)


def common(turn: AssistantTurnRequested, turn_event_id: str, at) -> dict[str, object]:
    return {
        "conversation": turn.conversation,
        "occurred_at": at,
        "cause_event_id": turn_event_id,
        "turn_id": turn.turn_id,
        "language": "ko",
    }


async def conversation_of(ctx, event_id: str) -> str:
    async with ctx.uow.reader() as uow:
        return (await uow.session.get(InteractionRecord, event_id)).conversation_id


async def test_assistant_turns_are_labelled_and_reported(console):
    _, runtime, keys, clock, transport = console
    ctx = runtime.ctx
    await route_batch(
        ctx,
        [
            Incoming("tg-1", telegram(clock(), "출금이 안 들어와요", 1)),
            Incoming("tg-2", telegram(clock(), UNANSWERED, 2)),
        ],
    )
    clock.now += timedelta(seconds=5)
    turn_id, turn = await turn_for(ctx, "tg-1")
    answer = AssistantAnswered(
        **common(turn, turn_id, clock()),
        article_id="withdrawal-pending",
        article_title="출금이 지연될 때",
        text="출금은 보통 30분 안에 처리됩니다",
        confidence=0.8,
        answer_number=1,
        quiet_check_at=clock() + timedelta(minutes=10),
    )
    resolved = AssistantResolved(
        **common(turn, turn_id, clock()),
        resolution="customer_confirmed",
        article_id="withdrawal-pending",
    )
    turn_id2, turn2 = await turn_for(ctx, "tg-2")
    handed = AssistantHandedOff(
        **common(turn2, turn_id2, clock()), reason="low_confidence", customer_text=UNANSWERED
    )
    await apply_assistant_events(
        ctx,
        [
            AssistantIncoming("ans-1", answer),
            AssistantIncoming("res-1", resolved),
            AssistantIncoming("hand-2", handed),
        ],
    )
    deflected, handed_off = await conversation_of(ctx, "tg-1"), await conversation_of(ctx, "tg-2")

    async with signed_in(transport, keys["lead"]) as client:
        page = (await client.get(f"/console/conversations/{deflected}")).text
        assert 'data-assistant="assistant_answer"' in page
        assert 'data-assistant="assistant_resolved"' in page
        assert "출금은 보통 30분 안에 처리됩니다" in page
        # The customer is called "assistant": their own message gets no badge.
        assert page.count("entry-assistant") == 2
        page = (await client.get(f"/console/conversations/{handed_off}")).text
        assert page.count('data-assistant="assistant_handoff"') == 1

        reports = (await client.get("/console/reports")).text
        section = reports[reports.index('id="assistant-report"') :]
        assert 'id="deflection-rate">50.0%<' in section
        assert "low_confidence</span>: 1" in section
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section and "<script>alert" not in section
        exported = await client.get("/console/reports/assistant.csv")
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text)))

    async with httpx.AsyncClient(transport=transport, base_url="http://router") as api:
        since = (clock() - timedelta(days=28)).isoformat()
        served = (
            await api.get(
                "/reports/assistant", params={"since": since}, headers={"X-API-Key": keys["lead"]}
            )
        ).json()
    assert rows[0] == ["section", "item", "value"]
    assert ["summary", "deflection_rate", str(served["deflection_rate"])] in rows
    assert ["summary", "offered", str(served["offered"])] in rows and served["offered"] == 2
    assert ["handoff_reason", "low_confidence", "1"] in rows
    assert ["unanswered", served["unanswered"][0]["example"], "1"] in rows

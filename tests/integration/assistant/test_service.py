"""The assistant process on the real broker: routing-topic turns in, its events out."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from libs.common.cloudevents import CloudEvent, decode
from libs.common.events.assistant import AssistantState, AssistantTurnRequested
from libs.common.events.interaction import Channel, CustomerIdentity
from libs.common.events.routing import ConversationSnapshot
from libs.common.kafka.producer import EventProducer
from libs.common.kafka.reading import read_all
from services.assistant import metrics
from services.assistant.bootstrap import run
from services.assistant.retrieval.tokens import KoreanAnalyzer
from services.assistant.settings import AssistantSettings
from tools.testing.system import free_port

pytestmark = pytest.mark.integration
SHARED_KB = Path(__file__).resolve().parents[4] / "shared/corpus/faq/kb"


def turn(
    conversation: str, event_id: str, text: str, state: AssistantState, kind="customer_message"
):
    data = AssistantTurnRequested(
        conversation=ConversationSnapshot(
            conversation_id=conversation,
            reference=f"C-{conversation}",
            channel=Channel.CHAT,
            status="open",
            queue="general",
            contact_id=f"contact-{conversation}",
            customer=CustomerIdentity(provider_handle=f"telegram:{conversation}"),
        ),
        occurred_at=datetime.now(UTC),
        turn_id=event_id,
        kind=kind,
        text=text,
        state=state,
    )
    return CloudEvent(id=event_id, source="omnidesk/router", type=data.ce_type, data=data)


async def events_on(settings: AssistantSettings, count: int) -> list[CloudEvent]:
    async with asyncio.timeout(60):  # a guard against hanging, not a timing assertion
        while True:
            records = await read_all(settings.kafka, settings.kafka.topics.assistant, idle_s=0.5)
            if len(records) >= count:
                return [decode(r.headers, r.value) for r in records]


async def test_turns_from_the_router_become_answers_handoffs_and_resolutions(
    kafka_topics, tmp_path
):
    port = free_port()
    settings = AssistantSettings(
        kafka=kafka_topics, kb_path=SHARED_KB, probe_port=port, group_id=f"a-{tmp_path.name}"
    )
    routing = kafka_topics.topics.routing
    resolved_before = metrics.RESOLVED.labels("quiet_timeout")._value.get()
    stop = asyncio.Event()
    service = asyncio.create_task(run(settings, stop, analyzer=KoreanAnalyzer()))
    try:
        async with EventProducer(kafka_topics, client_id="router-under-test") as router:
            first = turn("c1", "e1", "출금이 3시간째 안 들어와요 ㅠㅠ", AssistantState())
            await router.publish(routing, first, key="c1")
            [answered] = await events_on(settings, 1)
            assert answered.type == "support.assistant.answered"
            assert answered.data.article_id == "withdrawal-delay"
            assert answered.subject == "c1" and answered.data.cause_event_id == "e1"

            # what the router records from that answer, then the customer's reply
            after = AssistantState(
                status="awaiting_feedback",
                answers_given=1,
                last_article_id="withdrawal-delay",
                last_question=first.data.text,
            )
            await router.publish(
                routing, turn("c1", "e2", "아니요 상담원 연결해주세요", after), key="c1"
            )
            # a second conversation: answered, then quiet → resolved (deflected)
            await router.publish(
                routing, turn("c2", "e3", "how do I reset my password", AssistantState()), key="c2"
            )
            events = await events_on(settings, 3)
            c2_answer = next(e for e in events if e.subject == "c2")
            quiet_state = AssistantState(
                status="awaiting_feedback",
                answers_given=1,
                last_article_id=c2_answer.data.article_id,
            )
            await router.publish(
                routing, turn("c2", "e4", "", quiet_state, kind="quiet_check"), key="c2"
            )
            # the same turn delivered twice: the same event id comes out
            await router.publish(routing, turn("c3", "e5", "🙏🙏🙏", AssistantState()), key="c3")
            await router.publish(routing, turn("c3", "e5", "🙏🙏🙏", AssistantState()), key="c3")
            events = await events_on(settings, 6)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as probes:
                ready = await probes.get("/readyz")
                exposition = (await probes.get("/metrics")).text
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await service

    by_conversation: dict[str, list[CloudEvent]] = {}
    for event in events:
        by_conversation.setdefault(event.subject, []).append(event)
    c1_handoff = by_conversation["c1"][-1]
    assert c1_handoff.type == "support.assistant.handed_off"
    assert c1_handoff.data.reason == "asked_for_person"
    assert c1_handoff.data.last_article_id == "withdrawal-delay"
    assert [e.type for e in by_conversation["c2"]] == [
        "support.assistant.answered",
        "support.assistant.resolved",
    ]
    assert by_conversation["c2"][1].data.resolution == "quiet_timeout"
    c3 = by_conversation["c3"]
    assert [e.data.reason for e in c3] == ["no_text", "no_text"]
    assert c3[0].id == c3[1].id  # consumers drop the copy by ce_id
    assert metrics.RESOLVED.labels("quiet_timeout")._value.get() == resolved_before + 1
    assert metrics.DEFLECTION._value.get() > 0
    assert ready.status_code == 200
    for series in (
        "omnidesk_assistant_offered_total",
        "omnidesk_assistant_deflection_ratio",
        'omnidesk_assistant_handoffs_total{reason="asked_for_person"}',
        'omnidesk_assistant_answers_total{article="withdrawal-delay"}',
        'omnidesk_assistant_resolved_total{resolution="quiet_timeout"}',
        "omnidesk_assistant_kb_articles 40.0",
    ):
        assert series in exposition, series

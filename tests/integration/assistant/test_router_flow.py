"""The assistant's conversation flow in the router, on SQLite and PostgreSQL (no broker):
held instead of assigned, turns with state, answer → notifier event, handoff → assignment
with the first-response clock from the first message, resolution → deflected."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from libs.common.events.assistant import (
    AssistantAnswered,
    AssistantHandedOff,
    AssistantReplyRequested,
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
from libs.common.events.registry import model_for
from libs.common.events.routing import ConversationResolved, ConversationSnapshot
from services.router.domain.agents import AgentStatus
from services.router.scheduler import Scheduler
from services.router.service.agents import seed_agents, set_agent_status
from services.router.service.assistant_flow import AssistantIncoming, apply_assistant_events
from services.router.service.assistant_report import assistant_report
from services.router.service.interactions import Incoming, route_batch
from services.router.service.reporting import conversation_detail
from services.router.store.models import Conversation, InteractionRecord, OutboxRow, SlaTimer

pytestmark = pytest.mark.integration

QUESTION = "출금이 3시간째 안 들어와요 ㅠㅠ"


@pytest.fixture
async def ctx(ctx):
    """The conftest's router context, with the agents seeded (replies need an assignee)."""
    await seed_agents(ctx)
    return ctx


def telegram(clock, text: str, user: int = 4242, integration: str = "faq") -> Interaction:
    now = clock()
    return Interaction(
        channel=Channel.CHAT,
        provider="telegram",
        integration=integration,
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(handle=f"telegram:{user}", display_name="민수"),
        body=MessageBody(text=text),
        reply_path=ReplyPath(provider="telegram", integration=integration, address=str(user)),
    )


async def outbox(ctx) -> list[tuple[str, object]]:
    async with ctx.uow.reader() as uow:
        rows = await uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id))
        return [
            (r.event_id, model_for(r.ce_type).model_validate(json.loads(r.payload))) for r in rows
        ]


def of(events, model) -> list:
    return [e for _, e in events if isinstance(e, model)]


async def conversation(ctx, event_id: str) -> Conversation:
    async with ctx.uow.reader() as uow:
        record = await uow.session.get(InteractionRecord, event_id)
        return await uow.conversations.get(record.conversation_id)


async def timers(ctx, conversation_id: str) -> list[SlaTimer]:
    async with ctx.uow.reader() as uow:
        return await uow.timers.for_conversation(conversation_id)


def common(turn: AssistantTurnRequested, turn_event_id: str, at) -> dict[str, object]:
    snapshot: ConversationSnapshot = turn.conversation
    return {
        "conversation": snapshot,
        "occurred_at": at,
        "cause_event_id": turn_event_id,
        "turn_id": turn.turn_id,
        "language": "ko",
    }


def answered(turn, turn_event_id, at, *, number=1) -> AssistantAnswered:
    return AssistantAnswered(
        **common(turn, turn_event_id, at),
        article_id="withdrawal-pending",
        article_title="출금이 지연될 때",
        text="출금은 보통 30분 안에 처리됩니다 …\n\n도움이 되었나요?",
        quick_replies=["도움이 됐어요", "상담원 연결"],
        confidence=0.61,
        answer_number=number,
        quiet_check_at=at + timedelta(minutes=10),
    )


async def held_turn(ctx, clock, event_id: str, text: str, user: int):
    await route_batch(ctx, [Incoming(event_id, telegram(clock, text, user))])
    events = await outbox(ctx)
    turns = [(i, e) for i, e in events if isinstance(e, AssistantTurnRequested)]
    return turns[-1]


async def test_handoff_assigns_with_the_clock_from_the_first_message(ctx, clock):
    await set_agent_status(ctx, "agent-park", AgentStatus.ONLINE)
    first_at = clock()
    turn_id, turn = await held_turn(ctx, clock, "tg-1", QUESTION, 1)
    conv = await conversation(ctx, "tg-1")
    assert conv.queue == "faq" and conv.assistant_status == "offered"
    assert conv.assignee_id is None and "assistant" in conv.tags
    assert conv.first_response_due_at == first_at + timedelta(minutes=5)  # the clock runs
    assert all(t.cancelled_at is not None for t in await timers(ctx, conv.id))  # deferred
    assert turn.turn_id == "tg-1" and turn.text == QUESTION and turn.state.status == "offered"

    clock.advance(seconds=2)
    answer = answered(turn, turn_id, clock())
    assert await apply_assistant_events(ctx, [AssistantIncoming("ans-1", answer)]) == 1
    assert await apply_assistant_events(ctx, [AssistantIncoming("ans-1", answer)]) == 0  # replay
    reply = of(await outbox(ctx), AssistantReplyRequested)
    assert len(reply) == 1 and reply[0].text == answer.text
    assert reply[0].quick_replies == ["도움이 됐어요", "상담원 연결"]
    assert reply[0].conversation.reply_path.address == "1"
    conv = await conversation(ctx, "tg-1")
    assert conv.first_response_at is None  # an assistant answer never stops the clock
    assert conv.assistant_status == "awaiting_feedback" and conv.assistant_answers == 1
    assert conv.assistant_question == QUESTION

    clock.advance(minutes=1)
    second_id, second = await held_turn(ctx, clock, "tg-2", "아니요 상담원 연결해주세요", 1)
    assert second.state.status == "awaiting_feedback" and second.state.answers_given == 1
    assert second.state.last_article_id == "withdrawal-pending"
    assert second.state.last_question == QUESTION

    # while the assistant holds it, nothing fires even long after the due time
    clock.advance(minutes=10)
    assert await Scheduler(ctx).tick() == 0
    assert (await conversation(ctx, "tg-1")).assignee_id is None  # not drained to a person
    handed = AssistantHandedOff(
        **common(second, second_id, clock()),
        reason="asked_for_person",
        candidates=["withdrawal-pending"],
        customer_text="아니요 상담원 연결해주세요",
        answers_given=1,
        last_article_id="withdrawal-pending",
    )
    await apply_assistant_events(ctx, [AssistantIncoming("hand-1", handed)])
    conv = await conversation(ctx, "tg-1")
    assert conv.assignee_id == "agent-park" and conv.assistant_status == "handed_off"
    assert conv.assistant_outcome == "asked_for_person"
    assert conv.first_response_due_at == first_at + timedelta(minutes=5)  # same start
    live = [t for t in await timers(ctx, conv.id) if t.cancelled_at is None]
    assert {t.clock_started_at for t in live if t.metric == "first_response"} == {first_at}
    assert await Scheduler(ctx).tick() >= 2  # overdue warning and breach fire now
    _, entries = await conversation_detail(ctx, conv.id)
    handoff = [e for e in entries if e.type == "internal.assistant_handoff"]
    assert handoff and "asked_for_person" in str(handoff[0].detail["note"])
    assert any(e.type == "outbound.assistant_answer" for e in entries)

    # a message after the handoff is not the assistant's
    clock.advance(seconds=5)
    await route_batch(ctx, [Incoming("tg-3", telegram(clock, "빨리요", 1))])
    assert (await conversation(ctx, "tg-3")).id == conv.id
    assert len(of(await outbox(ctx), AssistantTurnRequested)) == 2


async def test_resolved_by_the_assistant_is_deflected_and_has_no_response_time(ctx, clock):
    turn_id, turn = await held_turn(ctx, clock, "tg-10", "OTP 재설정 어떻게 해요?", 2)
    clock.advance(seconds=3)
    await apply_assistant_events(
        ctx, [AssistantIncoming("ans-10", answered(turn, turn_id, clock()))]
    )
    # quiet for the configured time: the router asks the assistant (once)
    clock.advance(minutes=11)
    await Scheduler(ctx).tick()
    await Scheduler(ctx).tick()
    quiet = [t for t in of(await outbox(ctx), AssistantTurnRequested) if t.kind == "quiet_check"]
    assert len(quiet) == 1 and quiet[0].state.status == "awaiting_feedback"
    resolved = AssistantResolved(
        **common(quiet[0], "quiet-evt", clock()),
        resolution="quiet_timeout",
        article_id="withdrawal-pending",
    )
    await apply_assistant_events(ctx, [AssistantIncoming("res-10", resolved)])
    conv = await conversation(ctx, "tg-10")
    assert conv.status == "resolved" and conv.assistant_status == "resolved"
    assert conv.assistant_outcome == "quiet_timeout"
    assert conv.first_response_at is None and conv.assignee_id is None
    assert all(t.cancelled_at is not None or t.fired_at is None for t in await timers(ctx, conv.id))
    events = await outbox(ctx)
    assert of(events, AssistantTurnRequested)[0].conversation.conversation_id == conv.id
    assert of(events, ConversationResolved)[0].resolved_by == "assistant"

    # the customer comes back: a person takes the reopened conversation, not deflected
    await set_agent_status(ctx, "agent-lee", AgentStatus.ONLINE)
    clock.advance(minutes=5)
    await route_batch(ctx, [Incoming("tg-11", telegram(clock, "아직도 안 돼요", 2))])
    again = await conversation(ctx, "tg-11")
    assert again.id == conv.id and again.status != "resolved"
    assert again.assistant_status == "reopened" and again.assignee_id == "agent-lee"
    assert len(of(await outbox(ctx), AssistantTurnRequested)) == 2  # first turn + quiet check
    report = await assistant_report(ctx, since=conv.opened_at, until=clock())
    assert (report.offered, report.resolved, report.reopened) == (1, 0, 1)


async def test_other_chat_is_assigned_as_before(ctx, clock):
    await set_agent_status(ctx, "agent-park", AgentStatus.ONLINE)
    await route_batch(ctx, [Incoming("tg-20", telegram(clock, QUESTION, 3, integration="tg"))])
    conv = await conversation(ctx, "tg-20")
    assert conv.assistant_status is None and conv.queue != "faq"
    assert not of(await outbox(ctx), AssistantTurnRequested)


async def test_the_report_shows_deflection_reasons_articles_and_unanswered_groups(ctx, clock):
    start = clock()
    turn_id, turn = await held_turn(ctx, clock, "r-1", "OTP 재설정 어떻게 해요?", 31)
    await apply_assistant_events(
        ctx, [AssistantIncoming("r-ans", answered(turn, turn_id, clock()))]
    )
    resolved = AssistantResolved(**common(turn, turn_id, clock()), resolution="customer_confirmed")
    await apply_assistant_events(ctx, [AssistantIncoming("r-res", resolved)])
    questions = [
        "코인 스테이킹 이자 언제 들어와요",
        "스테이킹 이자 언제 들어오나요?",
        "회사 주소가 어디예요",
    ]
    for n, text in enumerate(questions):
        turn_id, turn = await held_turn(ctx, clock, f"u-{n}", text, 40 + n)
        handed = AssistantHandedOff(
            **common(turn, turn_id, clock()), reason="low_confidence", customer_text=text
        )
        await apply_assistant_events(ctx, [AssistantIncoming(f"u-hand-{n}", handed)])
    report = await assistant_report(ctx, since=start, until=clock())
    assert (report.offered, report.resolved, report.handed_off, report.holding) == (4, 1, 3, 0)
    assert report.deflection_rate == 0.25
    assert report.resolutions == {"customer_confirmed": 1}
    assert report.handoff_reasons == {"low_confidence": 3}
    assert report.answers_per_article == {"withdrawal-pending": 1}
    assert [g.count for g in report.unanswered] == [2, 1]
    assert report.unanswered[0].questions == questions[:2]

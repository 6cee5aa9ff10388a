"""Turn → events (deterministic ids), the handler with a fake publisher, eval output."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from libs.common.cloudevents import CloudEvent, decode, encode
from libs.common.events.assistant import (
    AssistantAnswered,
    AssistantHandedOff,
    AssistantResolved,
    AssistantState,
    AssistantTurnRequested,
)
from libs.common.events.interaction import Channel, CustomerIdentity
from libs.common.events.routing import ConversationSnapshot
from services.assistant.cli import app as assistant_cli
from services.assistant.domain.decide import Policy
from services.assistant.handler import HandlerConfig, TurnHandler

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
SHARED = Path(__file__).resolve().parents[4] / "shared/corpus/faq"


def snapshot(conversation_id="conv-1") -> ConversationSnapshot:
    return ConversationSnapshot(
        conversation_id=conversation_id,
        reference="C-1",
        channel=Channel.CHAT,
        status="open",
        queue="general",
        contact_id="contact-1",
        customer=CustomerIdentity(provider_handle="telegram:42", display_name="김민수"),
    )


def turn_event(text, *, event_id="turn-1", state=None, kind="customer_message") -> CloudEvent:
    data = AssistantTurnRequested(
        conversation=snapshot(),
        occurred_at=NOW,
        turn_id=f"t-{event_id}",
        kind=kind,
        text=text,
        state=state or AssistantState(),
    )
    return CloudEvent(id=event_id, source="omnidesk/router", type=data.ce_type, data=data)


class FakePublisher:
    def __init__(self):
        self.sent: list[tuple[str, CloudEvent, str]] = []

    async def publish(self, topic, event, *, key):
        self.sent.append((topic, event, key))


def handler(engine, publisher) -> TurnHandler:
    config = HandlerConfig(
        "assistant-topic", "omnidesk/assistant", Policy(0.2055), timedelta(minutes=10)
    )
    return TurnHandler(config, engine=lambda: engine, publisher=publisher, clock=lambda: NOW)


async def test_an_answer_asks_whether_it_helped_and_schedules_the_quiet_check(faq_engine):
    publisher = FakePublisher()
    cause = turn_event("출금 신청한 지 세 시간째 처리중이에요")
    await handler(faq_engine, publisher).handle(cause, cause.data)
    [(topic, event, key)] = publisher.sent
    assert topic == "assistant-topic" and key == "conv-1"
    answered = event.data
    assert isinstance(answered, AssistantAnswered)
    assert answered.article_id == "withdrawal-delay" and answered.language == "ko"
    assert answered.text.endswith("'상담원 연결'이라고 남겨 주세요.")
    assert answered.quick_replies == ["도움이 됐어요", "상담원 연결"]
    assert answered.quiet_check_at == NOW + timedelta(minutes=10)
    assert answered.cause_event_id == "turn-1" and answered.answer_number == 1
    # the CloudEvent survives the Kafka binding
    headers, body = encode(event)
    assert decode(headers, body).data == answered


async def test_a_redelivered_turn_yields_the_same_event_ids(faq_engine):
    publisher = FakePublisher()
    cause = turn_event("how do I reset my password")
    await handler(faq_engine, publisher).handle(cause, cause.data)
    await handler(faq_engine, publisher).handle(cause, cause.data)
    first, second = (event.id for _, event, _ in publisher.sent)
    assert first == second


async def test_asking_for_a_person_after_an_answer_hands_off(faq_engine):
    publisher = FakePublisher()
    state = AssistantState(
        status="awaiting_feedback", answers_given=1, last_article_id="withdrawal-delay"
    )
    cause = turn_event("아니요 상담원 연결해주세요", event_id="turn-2", state=state)
    await handler(faq_engine, publisher).handle(cause, cause.data)
    event = publisher.sent[-1][1]  # an article written for a handover may come first
    assert isinstance(event.data, AssistantHandedOff)
    assert event.data.reason == "asked_for_person"
    assert event.data.last_article_id == "withdrawal-delay"
    assert event.data.customer_text == "아니요 상담원 연결해주세요"


async def test_a_handoff_article_is_sent_then_handed_off(faq_engine):
    publisher = FakePublisher()
    cause = turn_event("제 계정이 해킹당한 것 같아요 모르는 출금 내역이 있어요")
    await handler(faq_engine, publisher).handle(cause, cause.data)
    kinds = [type(event.data) for _, event, _ in publisher.sent]
    assert kinds == [AssistantAnswered, AssistantHandedOff]
    answered, handed = (event.data for _, event, _ in publisher.sent)
    assert answered.handoff_follows and answered.quick_replies == []
    assert handed.article_id == answered.article_id == "hacked-account"


async def test_quiet_check_resolves_and_late_turns_are_ignored(faq_engine):
    publisher = FakePublisher()
    waiting = AssistantState(status="awaiting_feedback", answers_given=1, last_article_id="fees")
    quiet = turn_event("", event_id="quiet-1", state=waiting, kind="quiet_check")
    await handler(faq_engine, publisher).handle(quiet, quiet.data)
    [(_, event, _)] = publisher.sent
    assert isinstance(event.data, AssistantResolved) and event.data.resolution == "quiet_timeout"
    late = turn_event("hello?", event_id="late", state=AssistantState(status="handed_off"))
    await handler(faq_engine, publisher).handle(late, late.data)
    assert len(publisher.sent) == 1


async def test_bad_input_is_handed_off_never_crashes(faq_engine):
    publisher = FakePublisher()
    for i, text in enumerate(["", "가" * 20_000, "🙏🙏🙏", "出金がまだです"]):
        cause = turn_event(text, event_id=f"bad-{i}")
        await handler(faq_engine, publisher).handle(cause, cause.data)
    reasons = [event.data.reason for _, event, _ in publisher.sent]
    assert reasons == ["empty_message", "too_long", "no_text", "other_language"]
    assert len(publisher.sent[1][1].data.customer_text) == 2000  # capped


def test_eval_json_has_exactly_the_documented_shape(tmp_path):
    questions = tmp_path / "q.yaml"
    questions.write_text(
        "version: 1\nquestions:\n"
        '  - {text: "비밀번호 잊어버렸어요 재설정 방법?", lang: ko, expect: password-reset}\n'
        '  - {text: "can I stake SOL with you", lang: en, expect: null}\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        assistant_cli, ["eval", str(questions), "--kb", str(SHARED / "kb"), "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"results", "summary"}
    for row in payload["results"]:
        assert set(row) == {"text", "lang", "expect", "answered", "confidence"}
        assert isinstance(row["confidence"], float)
    assert payload["results"][0]["answered"] == "password-reset"
    assert payload["results"][1]["answered"] is None
    assert payload["summary"]["all"]["answered_correctly"] == 1
    assert payload["summary"]["by_language"]["en"]["out_of_scope_handed_off"] == 1


def test_eval_human_summary_per_language():
    result = CliRunner().invoke(
        assistant_cli,
        ["eval", str(SHARED / "dev-questions.yaml"), "--kb", str(SHARED / "kb")],
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("answered correctly") >= 3  # ko, en, all
    assert "ko: answerable 50" in result.output and "en: answerable 50" in result.output

"""Handoff rules and the conversation flow on plain data (retrieval faked)."""

import pytest

from services.assistant.domain.conversation import (
    TRANSITIONS,
    AssistantStatus,
    AssistantTrigger,
    InvalidAssistantTransition,
    next_status,
)
from services.assistant.domain.decide import (
    Action,
    ConversationState,
    HandoffReason,
    Policy,
    Resolution,
    decide_quiet_timeout,
    decide_turn,
    remember,
)
from services.assistant.domain.signals import asks_for_person, complaint_or_anger, legal_threat
from services.assistant.retrieval.index import Hit, Retrieval
from services.assistant.retrieval.language import Language

POLICY = Policy(threshold=0.2)


def fake_search(confidence: float, *articles: str):
    hits = tuple(Hit(a, "ko", 0.9 - i * 0.2) for i, a in enumerate(articles or ("fees",)))

    def search(text: str) -> Retrieval:
        return Retrieval(hits, confidence, ())

    return search


def decide(text, state=None, *, confidence=0.5, articles=("fees", "otp-setup"), handoff=()):
    return decide_turn(
        text,
        state or ConversationState(),
        search=fake_search(confidence, *articles),
        handoff_articles=frozenset(handoff),
        policy=POLICY,
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", HandoffReason.EMPTY_MESSAGE),
        ("   \n ", HandoffReason.EMPTY_MESSAGE),
        ("출금 " * 10_000, HandoffReason.TOO_LONG),
        ("😡😡😡🙏", HandoffReason.NO_TEXT),
        ("!!! ??? 123", HandoffReason.NO_TEXT),
        ("出金がまだ届きません", HandoffReason.OTHER_LANGUAGE),
        ("Где мой вывод средств?", HandoffReason.OTHER_LANGUAGE),
    ],
)
def test_unreadable_input_is_handed_off_with_a_reason(text, reason):
    decision = decide(text)
    assert decision.action is Action.HAND_OFF and decision.handoff_reason is reason
    assert decision.next_status is AssistantStatus.HANDED_OFF


@pytest.mark.parametrize(
    "text",
    [
        "상담원 연결해주세요",
        "아니요 상담원 연결해주세요",
        "상담원이랑 얘기하고 싶어요",
        "사람이랑 얘기할래",
        "그냥 사람 불러줘",
        "직원 연결 좀",
        "상담사 바꿔 주세요",
        "담당자 연결 부탁드립니다",
        "상담웜 연결",  # typo
        "봇 말고 진짜 사람",
        "I want to talk to a human",
        "can I speak to a real person please",
        "agent please",
        "connect me with an agent",
        "get me a representative",
        "i dont want a bot",
    ],
)
def test_asking_for_a_person(text):
    assert asks_for_person(text)
    decision = decide(text)
    assert decision.handoff_reason is HandoffReason.ASKED_FOR_PERSON
    assert decision.article_id is None  # a normal article is not sent with the handoff


@pytest.mark.parametrize(
    "text",
    ["상담원 채용하나요?", "how do I reset my 2FA", "출금이 안 돼요", "the agent fee is high?"],
)
def test_not_a_request_for_a_person(text):
    assert not asks_for_person(text)


def test_legal_threats_and_complaints():
    assert legal_threat("보상 안 해주면 변호사 선임해서 소송합니다")
    assert legal_threat("My attorney will file suit on Monday")
    for text in (
        "이거 완전 사기네요",
        "금감원에 신고할게요",
        "worst exchange ever",
        "THIS IS A SCAM",
    ):
        assert complaint_or_anger(text), text
    assert complaint_or_anger("WHERE IS MY MONEY YOU PEOPLE")
    assert not complaint_or_anger("KYC and OTP setup for my KRW account?")
    assert decide("변호사 통해 소송 진행하겠습니다").handoff_reason is HandoffReason.LEGAL_THREAT
    assert decide("이거 완전 사기 아니에요?").handoff_reason is HandoffReason.COMPLAINT


def test_a_complaint_may_carry_an_article_written_for_a_handover():
    decision = decide(
        "해킹당했어요 당장 막아주세요!!!", articles=("hacked-account",), handoff={"hacked-account"}
    )
    assert decision.action is Action.HAND_OFF
    assert decision.handoff_reason is HandoffReason.COMPLAINT
    assert decision.article_id == "hacked-account"


def test_low_confidence_hands_off_and_confident_answers():
    assert decide("선물 레버리지 몇 배?", confidence=0.1).handoff_reason is (
        HandoffReason.LOW_CONFIDENCE
    )
    answer = decide("수수료 얼마예요", confidence=0.5)
    assert answer.action is Action.ANSWER and answer.article_id == "fees"
    assert answer.next_status is AssistantStatus.AWAITING_FEEDBACK


def test_a_handoff_article_is_sent_and_handed_off():
    decision = decide(
        "다른 상담원으로 바꿔줄 수 있나요?", articles=("change-agent",), handoff={"change-agent"}
    )
    assert decision.action is Action.HAND_OFF and decision.article_id == "change-agent"
    decision = decide("계정 해킹", articles=("hacked-account",), handoff={"hacked-account"})
    assert decision.handoff_reason is HandoffReason.ARTICLE_REQUIRES_PERSON
    assert decision.article_id == "hacked-account"


def awaiting(answers=1, article="fees", question="수수료 얼마예요"):
    return ConversationState(AssistantStatus.AWAITING_FEEDBACK, answers, article, question)


@pytest.mark.parametrize("text", ["네 감사합니다", "해결됐어요!", "thanks, that helped", "ㅇㅇ"])
def test_confirmation_resolves(text):
    decision = decide(text, awaiting())
    assert decision.action is Action.RESOLVE and decision.resolution is Resolution.CONFIRMED
    assert decision.next_status is AssistantStatus.RESOLVED


def test_a_first_answer_that_did_not_help_gets_the_next_article():
    decision = decide("아니요 도움 안 됐어요", awaiting(), articles=("fees", "otp-setup"))
    assert decision.action is Action.ANSWER and decision.article_id == "otp-setup"


def test_the_second_answer_that_did_not_help_hands_off():
    decision = decide("아니요", awaiting(answers=2, article="otp-setup"))
    assert decision.handoff_reason is HandoffReason.ANSWER_NOT_HELPFUL


def test_no_and_no_other_article_hands_off():
    decision = decide("no, didn't help", awaiting(), confidence=0.21, articles=("fees", "x"))
    assert decision.handoff_reason is HandoffReason.ANSWER_NOT_HELPFUL


def test_quiet_timeout_resolves_only_while_awaiting_feedback():
    decision = decide_quiet_timeout(awaiting())
    assert decision.resolution is Resolution.QUIET_TIMEOUT and decision.article_id == "fees"
    assert decide_quiet_timeout(ConversationState()) is None


def test_a_finished_conversation_is_refused():
    with pytest.raises(ValueError, match="no longer holds"):
        decide("hello", ConversationState(AssistantStatus.HANDED_OFF))


def test_remember_counts_answers():
    state = ConversationState()
    decision = decide("수수료 얼마예요")
    after = remember(state, decision, "수수료 얼마예요")
    assert after == ConversationState(
        AssistantStatus.AWAITING_FEEDBACK, 1, "fees", "수수료 얼마예요"
    )


def test_transition_table():
    assert next_status(AssistantStatus.OFFERED, AssistantTrigger.ANSWER) is AssistantStatus.ANSWERED
    with pytest.raises(InvalidAssistantTransition):
        next_status(AssistantStatus.RESOLVED, AssistantTrigger.ANSWER)
    finals = {AssistantStatus.RESOLVED, AssistantStatus.HANDED_OFF}
    assert not any(status in finals for status, _ in TRANSITIONS)


def test_any_text_gets_a_decision_never_an_exception(faq_engine):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.text(max_size=300) | st.sampled_from(["\x00출금", "ㅋ" * 500, "👍🏻" * 50, "\u200b"]))
    def check(text):
        decision = decide_turn(
            text,
            ConversationState(),
            search=faq_engine.search,
            handoff_articles=faq_engine.handoff_articles,
            policy=POLICY,
        )
        assert decision.action in (Action.ANSWER, Action.HAND_OFF)
        assert 0.0 <= decision.confidence <= 1.0

    check()


def test_the_decision_speaks_the_customers_language():
    romanised = decide("chulgeum i an dwaeyo", confidence=0.1)
    assert romanised.language is Language.KO  # handed off, with a Korean notice
    assert romanised.handoff_reason is HandoffReason.LOW_CONFIDENCE
    named = decide("Hi, I'm 김민수 and my withdrawal is still pending", confidence=0.5)
    assert named.language is Language.EN and named.action is Action.ANSWER
    mixed = decide("출금이 3시간째 pending이에요", confidence=0.5)
    assert mixed.language is Language.KO

"""Retrieval on the shared FAQ with messages written for these tests (not dev questions)."""

import pytest

from services.assistant.settings import DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("text", "article"),
    [
        ("출금 신청한 지 두 시간 넘었는데 아직도 처리중이에요", "withdrawal-delay"),  # formal
        ("출금 왜케 안됨?? 두시간째 처리중임", "withdrawal-delay"),  # 반말, spacing
        ("출굼이 처리중에서 안넘어가요", "withdrawal-delay"),  # typo
        ("USDT 출금했는데 still processing이에요", "withdrawal-delay"),  # mixed
        ("구글 OTP 폰 잃어버렸는데 재설정 해야돼요", "otp-reset-lost-device"),
        ("롤링 조건이 어떻게 돼요?", "bonus-rollover-requirement"),
        ("what is the wagering requirement on the bonus", "bonus-rollover-requirement"),
        ("how do I change my registered phone number", "change-phone-number"),
        ("forgot my password, how do I reset it", "password-reset"),
        (
            "안녕하세요 저번 주에 가입한 사람인데요, 이것저것 해보다가 궁금한 게 생겨서요. "
            "거래할 때 수수료가 몇 퍼센트인지 알 수 있을까요? 다른 데랑 비교해 보려고요. "
            "답변 주시면 감사하겠습니다.",
            "fees",
        ),  # long, the question in the middle
    ],
)
def test_routine_questions_find_their_article(faq_engine, text, article):
    result = faq_engine.search(text)
    assert result.top.article_id == article, result.hits[:3]


def test_confidence_is_bounded_and_separates_in_and_out_of_scope(faq_engine):
    routine = faq_engine.search("OTP 재설정은 어떻게 하나요")
    unknown = faq_engine.search("NFT 마켓플레이스 수익 배분 구조 알려줘")
    assert 0 <= unknown.confidence < DEFAULT_THRESHOLD <= routine.confidence <= 1


def test_nothing_matches_nothing(faq_engine):
    result = faq_engine.search("zzzz qqqq")
    assert result.confidence < DEFAULT_THRESHOLD

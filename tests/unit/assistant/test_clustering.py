from libs.common.clustering import group_questions


def test_unanswered_questions_group_by_topic_largest_first(faq_engine):
    questions = [
        "스테이킹 서비스 있어요?",
        "선물 거래 레버리지 몇 배예요",
        "스테이킹 이자 몇 퍼센트예요",
        "do you offer a debit card?",
        "스테이킹 언제 지원해요?",
        "is there a crypto debit card",
        "선물 거래 되나요",
        "",
    ]
    groups = group_questions(
        questions, terms=faq_engine.retriever.tokenizer.terms, idf=faq_engine.retriever.idf
    )
    assert [g.size for g in groups] == [3, 2, 2]
    assert groups[0].example == "스테이킹 서비스 있어요?"
    assert {frozenset(g.questions) for g in groups[1:]} == {
        frozenset({"선물 거래 레버리지 몇 배예요", "선물 거래 되나요"}),
        frozenset({"do you offer a debit card?", "is there a crypto debit card"}),
    }


def test_nothing_to_group(faq_engine):
    assert group_questions([], terms=faq_engine.retriever.tokenizer.terms, idf={}) == []

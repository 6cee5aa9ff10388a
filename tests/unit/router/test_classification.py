import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from libs.common.events.interaction import Channel, InteractionKind, MessageBody, RoutingHints
from libs.common.events.routing import Priority
from services.router.domain.classification import (
    CustomerAttributes,
    CustomerList,
    RuleSet,
    classify,
    customer_attributes,
    detect_language,
    interaction_language,
)
from tests.unit.router.factories import interaction

RULES = RuleSet.model_validate(
    {
        "defaults": {"queue": "general", "priority": "normal"},
        "customers": {"vip": ["vip@example.com"], "segments": {"fund": ["desk@fund.example"]}},
        "rules": [
            {
                "name": "hack",
                "when": {"keywords": ["hacked", "해킹"]},
                "then": {"queue": "security", "priority": "urgent", "tags": ["security"]},
            },
            {
                "name": "vip",
                "when": {"customer": {"vip": True}},
                "then": {"priority": "high", "tags": ["vip"]},
            },
            {
                "name": "refund",
                "when": {"subject_regex": r"^refund\b"},
                "then": {"queue": "billing"},
            },
            {
                "name": "missed",
                "when": {"kinds": ["call_missed"]},
                "then": {"queue": "phone", "tags": ["callback"]},
            },
            {
                "name": "ko",
                "when": {"languages": ["ko"]},
                "then": {"queue": "ko-support", "skills": ["ko"]},
            },
            {
                "name": "tg",
                "when": {"providers": ["telegram"], "channels": ["chat"]},
                "then": {"tags": ["tg"]},
                "stop": True,
            },
            {"name": "never", "when": {"integrations": ["x"]}, "then": {"queue": "never"}},
        ],
    }
)
NOBODY = CustomerAttributes()


def test_detect_hangul_and_latin():
    assert detect_language("출금이 안 돼요") == "ko"
    assert detect_language("where is my deposit") == "en"
    assert detect_language("12345 !!") is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ1 !\u00e9\uac00\u1100\u3131\u4e00\n"), max_size=8))
def test_detect_language_is_the_two_searches(text: str) -> None:
    # ASCII text is not searched for Hangul: the same answer as both searches give
    hangul = re.search(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]", text)
    latin = re.search(r"[A-Za-z]", text)
    assert detect_language(text) == ("ko" if hangul else "en" if latin else None)


def test_body_language_wins_over_detection():
    inter = interaction(text="hello", body=MessageBody(text="hello", language="ko-KR"))
    assert interaction_language(inter) == "ko"


def test_keywords_match_korean_and_first_queue_wins():
    result = classify(interaction(text="계정이 해킹 당했어요"), RULES, NOBODY)
    assert (result.queue, result.priority) == ("security", Priority.URGENT)
    assert result.language == "ko" and "ko" in result.skills  # later rules still add skills


def test_vip_raises_priority_and_keeps_default_queue():
    attrs = customer_attributes(RULES, ["VIP@example.com"])
    assert attrs.vip
    result = classify(interaction(text="hello"), RULES, attrs)
    assert result.priority is Priority.HIGH and result.queue == "general" and "vip" in result.tags


def test_segments_from_customer_list():
    assert customer_attributes(RULES, ["desk@fund.example"]).segments == frozenset({"fund"})


def test_a_customer_on_no_list_has_no_attributes():
    assert customer_attributes(RULES, ["someone@example.com", "+821012345678"]) == (
        CustomerAttributes(vip=False, segments=frozenset())
    )
    assert customer_attributes(RULES, []) == CustomerAttributes()
    # a VIP in a segment too: both, whatever else the customer has
    both = RuleSet(
        customers=CustomerList(vip=["Desk@Fund.example"], segments={"fund": ["desk@fund.example"]})
    )
    assert customer_attributes(both, ["x@example.com", "DESK@fund.example"]) == (
        CustomerAttributes(vip=True, segments=frozenset({"fund"}))
    )


def test_subject_regex_and_missed_call_kind():
    assert classify(interaction(subject="Refund please"), RULES, NOBODY).queue == "billing"
    missed = interaction(
        Channel.PHONE,
        email=None,
        phone="+821012345678",
        text="",
        subject=None,
        kind=InteractionKind.CALL_MISSED,
    )
    result = classify(missed, RULES, NOBODY)
    assert result.queue == "phone" and "callback" in result.tags


def test_stop_ends_evaluation_and_hints_come_before_defaults():
    chat = interaction(
        Channel.CHAT,
        email=None,
        handle="telegram:1",
        provider="telegram",
        text="1234",
        subject=None,
        integration="x",
        routing_hints=RoutingHints(queue="vip-desk", priority="low", tags=["hint"]),
    )
    result = classify(chat, RULES, NOBODY)
    assert result.matched_rules == ("tg",)
    assert (result.queue, result.priority) == ("vip-desk", Priority.LOW)
    assert result.tags == ("hint", "tg")


def test_invalid_rules_are_refused():
    with pytest.raises(ValidationError):
        RuleSet.model_validate({"rules": [{"name": "a", "when": {"text_regex": "("}, "then": {}}]})
    with pytest.raises(ValidationError):
        RuleSet.model_validate({"rules": [{"name": "a", "then": {}}, {"name": "a", "then": {}}]})
    with pytest.raises(ValidationError):
        RuleSet.model_validate({"rules": [{"name": "a", "then": {"queue": "q", "colour": "red"}}]})

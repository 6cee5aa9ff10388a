"""``classify`` memoises by what the rules read: the same classification as running
the rules over each interaction (``classify_by_rules``), for any rules and interactions."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.events.interaction import (
    Channel,
    Interaction,
    InteractionKind,
    MessageBody,
    RoutingHints,
)
from services.router.domain.classification import (
    CustomerAttributes,
    RuleSet,
    _keywords_match,
    _keywords_matcher,
    classify,
    classify_by_rules,
    customer_attributes,
    interaction_language,
)
from tests.unit.router.factories import interaction

_WORDS = ["hacked", "해킹", "refund", "출금", "hello", "Deposit"]
_words = st.lists(st.sampled_from(_WORDS), max_size=3)
_condition = st.fixed_dictionaries(
    {},
    optional={
        "channels": st.lists(st.sampled_from(["email", "chat", "phone"]), max_size=2),
        "providers": st.lists(st.sampled_from(["imap", "whatsapp", "telegram"]), max_size=2),
        "integrations": st.lists(st.sampled_from(["main", "faq", "x"]), max_size=2),
        "kinds": st.lists(st.sampled_from(["message", "call_missed"]), max_size=1),
        "languages": st.lists(st.sampled_from(["ko", "en"]), max_size=1),
        "keywords": _words,
        "subject_regex": st.sampled_from([r"^refund\b", "help", "[0-9]"]),
        "text_regex": st.sampled_from(["deposit", "^1", "출금"]),
        "customer": st.fixed_dictionaries(
            {},
            optional={
                "vip": st.booleans(),
                "segments": st.lists(st.sampled_from(["fund", "retail"]), max_size=2),
            },
        ),
    },
)
_outcome = st.fixed_dictionaries(
    {},
    optional={
        "queue": st.sampled_from(["security", "billing", "ko-support"]),
        "priority": st.sampled_from(["low", "high", "urgent"]),
        "tags": st.lists(st.sampled_from(["a", "b", "vip"]), max_size=2),
        "skills": st.lists(st.sampled_from(["ko", "en"]), max_size=2),
    },
)
_rules = st.lists(
    st.fixed_dictionaries({"when": _condition, "then": _outcome}, optional={"stop": st.booleans()}),
    max_size=6,
).map(
    lambda rules: RuleSet.model_validate(
        {"rules": [{"name": f"r{n}", **rule} for n, rule in enumerate(rules)]}
    )
)
_text = st.lists(st.sampled_from([*_WORDS, " ", "1", "x"]), max_size=5).map("".join)
_interaction = st.builds(
    lambda channel, provider, integration, kind, text, subject, language, hints: interaction(
        channel,
        provider=provider,
        integration=integration,
        kind=kind,
        subject=subject,
        body=MessageBody(text=text, language=language),
        routing_hints=hints,
    ),
    st.sampled_from(list(Channel)),
    st.sampled_from(["imap", "whatsapp", "telegram"]),
    st.sampled_from(["main", "faq", "x"]),
    st.sampled_from([InteractionKind.MESSAGE, InteractionKind.CALL_MISSED]),
    _text,
    st.none() | _text,
    st.none() | st.sampled_from(["ko-KR", "en"]),
    st.builds(
        RoutingHints,
        queue=st.none() | st.sampled_from(["vip-desk", "general"]),
        priority=st.none() | st.sampled_from(["low", "urgent", "bogus"]),
        tags=st.lists(st.sampled_from(["hint", "a"]), max_size=2),
    ),
)
_customer = st.builds(
    CustomerAttributes,
    vip=st.booleans(),
    segments=st.frozensets(st.sampled_from(["fund", "retail"])),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rules, st.lists(st.tuples(_interaction, _customer), min_size=1, max_size=8))
def test_memoised_classification_is_the_rules_own(rules, cases):
    # several interactions over one rule set: later ones may hit what earlier ones stored
    for item, customer in cases * 2:
        expected = classify_by_rules(item, rules, customer, interaction_language(item))
        assert classify(item, rules, customer) == expected


def test_a_new_rule_set_is_not_answered_from_the_last_ones_memo():
    item = interaction(text="hacked")
    first = RuleSet.model_validate(
        {"rules": [{"name": "a", "when": {"keywords": ["hacked"]}, "then": {"queue": "one"}}]}
    )
    second = RuleSet.model_validate(
        {"rules": [{"name": "a", "when": {"keywords": ["hacked"]}, "then": {"queue": "two"}}]}
    )
    nobody = CustomerAttributes()
    assert classify(item, first, nobody).queue == "one"
    assert classify(item, second, nobody).queue == "two"
    assert classify(item, first, nobody).queue == "one"


def _text_tests_by_attributes(rules: RuleSet, item: Interaction) -> list[bool]:
    """Each rule's text tests as they read the interaction's attributes before (the
    keywords through ``_keywords_match``)."""
    outcomes = []
    for rule in rules.rules:
        when = rule.when
        if when.folded_keywords:
            outcomes.append(_keywords_match(when.folded_keywords, item))
        if when.subject_regex is not None:
            found = re.search(when.subject_regex, item.subject or "", re.IGNORECASE)
            outcomes.append(found is not None)
        if when.text_regex is not None:
            found = re.search(when.text_regex, item.body.text, re.IGNORECASE)
            outcomes.append(found is not None)
    return outcomes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rules, _interaction, _customer)
def test_text_tests_read_from_dict_answer_as_the_attribute_reads(rules, item, customer):
    language = interaction_language(item)
    outcomes = [
        test(item, language, customer) for rule in rules.rules for test in rule.when.text_tests
    ]
    assert outcomes == _text_tests_by_attributes(rules, item)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rules, _interaction)
def test_text_matchers_answer_as_the_attribute_reads(rules, item):
    outcomes = [
        matches(item.subject or "", item.body.text)
        for rule in rules.rules
        for matches in rule.when.text_matchers
    ]
    assert outcomes == _text_tests_by_attributes(rules, item)


#: text whose case folding turns non-ASCII into ASCII (the Kelvin sign, sharp s) or not
_folding_text = st.text(alphabet=st.sampled_from("kKS\u212a\u00dfs출금 x"), max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["k", "ss", "hacked", "출금", "straße", "\u212a"]), min_size=1, max_size=4
    ),
    st.none() | _folding_text,
    _folding_text,
)
def test_keywords_searched_as_any_keyword_in_the_folded_text(keywords, subject, text):
    """The ASCII keywords alone for an ASCII haystack: the answer of every keyword (a
    rule with keywords: one without has no keyword matcher)."""
    folded = (
        RuleSet.model_validate(
            {"rules": [{"name": "k", "when": {"keywords": keywords}, "then": {}}]}
        )
        .rules[0]
        .when.folded_keywords
    )
    item = interaction(subject=subject, body=MessageBody(text=text))
    assert _keywords_matcher(folded)(subject or "", text) == _keywords_match(folded, item)


_identity_values = st.lists(
    st.sampled_from(
        ["vip@example.com", "VIP@Example.com", "desk@fund.example", "x@example.com", "+8210"]
    ),
    max_size=3,
)


@given(
    st.lists(st.sampled_from(["vip@example.com", "+8210", "Other@x"]), max_size=2),
    st.dictionaries(
        st.sampled_from(["fund", "retail"]),
        st.lists(st.sampled_from(["DESK@fund.example", "x@example.com"]), max_size=2),
        max_size=2,
    ),
    _identity_values,
)
def test_customer_attributes_are_those_of_the_values_lower_cased(vip, segments, values):
    rules = RuleSet.model_validate({"customers": {"vip": vip, "segments": segments}})
    lowered = {v.lower() for v in values}
    expected = (
        CustomerAttributes()
        if lowered.isdisjoint(rules.listed_keys)
        else CustomerAttributes(
            vip=bool(lowered & rules.vip_keys),
            segments=frozenset(n for n, m in rules.segment_keys.items() if lowered & m),
        )
    )
    assert customer_attributes(rules, values) == expected

"""Declarative classification rules (YAML, validated with pydantic).

Rules run in order. The first matching rule that names a queue sets the queue,
likewise for priority; tags and required skills accumulate; ``stop: true``
ends evaluation. Integration routing hints come before the defaults.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property
from operator import attrgetter
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.common.events.interaction import Channel, Interaction, InteractionKind
from libs.common.events.routing import Priority

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> str | None:
    """Korean if the text has Hangul, English if it has Latin letters only."""
    # ASCII text has no Hangul: not searched for it (``isascii`` reads the string's flag;
    # the search read every character of an English mail's subject and text)
    if text.isascii():
        # its letters are the characters whose case changes: a case mapping compared,
        # not a regex search (~1 K instructions less an English mail, callgrind)
        return "en" if text.upper() != text or text.lower() != text else None
    if _HANGUL.search(text):
        return "ko"
    if _LATIN.search(text):
        return "en"
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerCondition(_Strict):
    vip: bool | None = None
    segments: list[str] = Field(default_factory=list, description="Any of these segments.")


class RuleCondition(_Strict):
    channels: list[Channel] = Field(default_factory=list)
    providers: list[str] = Field(default_factory=list)
    integrations: list[str] = Field(default_factory=list)
    kinds: list[InteractionKind] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list, description="Any, case-insensitive.")
    subject_regex: str | None = None
    text_regex: str | None = None
    customer: CustomerCondition | None = None

    @cached_property
    def folded_keywords(self) -> tuple[str, ...]:
        """The keywords case-folded once (they are matched against every interaction)."""
        return tuple(k.casefold() for k in self.keywords)

    @cached_property
    def tests(self) -> tuple[Test, ...]:
        """The condition as the tests of its parts that are set (the condition holds when
        all do), cheapest first, worked out once per rule set: most rules set one or two
        parts, and checking read all nine and called four helpers for every rule and new
        conversation (with the NamedTuples below: classify 105 → 76 thousand
        instructions per call for the sample rules, callgrind)."""
        tests: list[Test] = []
        for attribute, wanted in (
            ("channel", self.channels),
            ("provider", self.providers),
            ("integration", self.integrations),
            ("kind", self.kinds),
        ):
            if wanted:
                tests.append(_attribute_in(attribute, frozenset(wanted)))
        if self.languages:
            languages = frozenset(self.languages)
            tests.append(lambda _interaction, language, _customer: language in languages)
        customer = self.customer
        if customer is not None:
            tests.append(lambda _interaction, _language, found: _customer_match(customer, found))
        return (*tests, *self.text_tests)

    @cached_property
    def text_tests(self) -> tuple[Test, ...]:
        """The tests of the parts that read the interaction's text (keywords and the
        regexes), the last of ``tests``; every other part reads only the channel,
        provider, integration, kind, language or customer attributes (``classify``'s
        memo key). Each is its ``text_matchers``' matcher over the interaction's
        subject and text."""
        tests: list[Test] = []
        for matcher in self.text_matchers:
            tests.append(_text_test(matcher))
        return tuple(tests)

    @cached_property
    def text_matchers(self) -> tuple[TextMatcher, ...]:
        """``text_tests`` as matchers of the subject (``""`` for none) and the text,
        which ``classify`` reads once for all of them and for the language: not each
        test reading the interaction's fields again (~0.9 K instructions a test)."""
        matchers: list[TextMatcher] = []
        keywords = self.folded_keywords
        if keywords:
            matchers.append(_keywords_matcher(keywords))
        if self.subject_regex is not None:
            subject = re.compile(self.subject_regex, re.IGNORECASE).search
            matchers.append(lambda subject_text, _text: subject(subject_text) is not None)
        if self.text_regex is not None:
            text = re.compile(self.text_regex, re.IGNORECASE).search
            matchers.append(lambda _subject, text_text: text(text_text) is not None)
        return tuple(matchers)

    @field_validator("subject_regex", "text_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from None
        return value


#: one part of a rule's condition: (interaction, its language, the customer's attributes)
Test = Callable[[Interaction, "str | None", "CustomerAttributes"], bool]
#: a part of a rule's condition that reads the text: (the subject or "", the text)
TextMatcher = Callable[[str, str], bool]


def _text_test(matcher: TextMatcher) -> Test:
    """A ``TextMatcher`` as a rule's ``Test``: over the interaction's subject and text."""

    def test(interaction: Interaction, _language: str | None, _customer: object) -> bool:
        fields = interaction.__dict__  # field reads (domain/intake.py)
        return matcher(fields["subject"] or "", fields["body"].__dict__["text"])

    return test


def _attribute_in(attribute: str, wanted: frozenset[object]) -> Test:
    read = attrgetter(attribute)
    return lambda interaction, _language, _customer: read(interaction) in wanted


class RuleOutcome(_Strict):
    queue: str | None = None
    priority: Priority | None = None
    tags: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list, description="Skills the agent needs.")


class Rule(_Strict):
    name: str
    when: RuleCondition = Field(default_factory=RuleCondition)
    then: RuleOutcome
    stop: bool = False


class RuleDefaults(_Strict):
    queue: str = "general"
    priority: Priority = Priority.NORMAL


class CustomerList(_Strict):
    vip: list[str] = Field(default_factory=list, description="Emails/phones/handles of VIPs.")
    segments: dict[str, list[str]] = Field(default_factory=dict)


class RuleSet(_Strict):
    defaults: RuleDefaults = Field(default_factory=RuleDefaults)
    customers: CustomerList = Field(default_factory=CustomerList)
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[Rule]) -> list[Rule]:
        names = [r.name for r in rules]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"duplicate rule names: {sorted(duplicates)}")
        return rules

    @cached_property
    def vip_keys(self) -> frozenset[str]:
        return frozenset(v.strip().lower() for v in self.customers.vip)

    @cached_property
    def listed_keys(self) -> frozenset[str]:
        """Every VIP and segment member, lower-cased: a customer none of whose values is
        one is on no list (``customer_attributes`` then builds nothing)."""
        return self.vip_keys.union(*self.segment_keys.values())

    @cached_property
    def segment_keys(self) -> dict[str, frozenset[str]]:
        """Each segment's members lower-cased, once per rule set (not per interaction)."""
        return {
            name: frozenset(m.lower() for m in members)
            for name, members in self.customers.segments.items()
        }


class CustomerAttributes(NamedTuple):
    """Immutable like the frozen dataclasses these were; built several times cheaper
    (a frozen dataclass sets each field through ``object.__setattr__``), once per new
    conversation."""

    vip: bool = False
    segments: frozenset[str] = frozenset()


#: a customer on no list (``customer_attributes``): no VIP, in no segment
_UNLISTED = CustomerAttributes()


class Classification(NamedTuple):
    queue: str
    priority: Priority
    language: str | None
    tags: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    matched_rules: tuple[str, ...] = ()


def interaction_language(interaction: Interaction) -> str | None:
    fields = interaction.__dict__  # field reads (intake.py)
    body = fields["body"].__dict__
    return _language(fields, body["language"], fields["subject"] or "", body["text"])


def _language(fields: dict[str, Any], stated: str | None, subject: str, text: str) -> str | None:
    """``interaction_language`` from the interaction's fields (its ``__dict__``), its
    body's stated language, its subject (``""`` for none) and its text."""
    if stated:
        return stated.split("-")[0].lower()
    detected = detect_language(f"{subject} {text}")
    return detected or fields["routing_hints"].__dict__["language"]


def customer_attributes(rules: RuleSet, identity_values: list[str]) -> CustomerAttributes:
    listed = rules.listed_keys
    for value in identity_values:  # a loop, not a set built first: most are on no list
        if value.lower() in listed:
            break
    else:  # most customers: no VIP, in no segment
        return _UNLISTED
    values = {v.lower() for v in identity_values}
    segments = {name for name, members in rules.segment_keys.items() if values & members}
    return CustomerAttributes(vip=bool(values & rules.vip_keys), segments=frozenset(segments))


def _keywords_matcher(keywords: tuple[str, ...]) -> TextMatcher:
    """``_keywords_match(keywords, interaction)`` as a matcher of the subject and text.
    A haystack that is ASCII once case-folded is searched for the ASCII keywords only:
    the others cannot be in it (an English mail skips the sample rules' Korean ones)."""
    ascii_keywords = tuple(keyword for keyword in keywords if keyword.isascii())

    def matches(subject: str, text: str) -> bool:
        haystack = f"{subject}\n{text}".casefold()
        # a loop, not a generator: run for every new conversation
        for keyword in ascii_keywords if haystack.isascii() else keywords:
            if keyword in haystack:
                return True
        return False

    return matches


def _keywords_match(keywords: tuple[str, ...], interaction: Interaction) -> bool:
    """Any of ``keywords`` in the subject or text, case-folded (``_keywords_test``'s
    reference)."""
    if not keywords:
        return True
    haystack = f"{interaction.subject or ''}\n{interaction.body.text}".casefold()
    for keyword in keywords:  # noqa: SIM110 - no generator: run for every new conversation
        if keyword in haystack:
            return True
    return False


def _customer_match(condition: CustomerCondition | None, customer: CustomerAttributes) -> bool:
    if condition is None:
        return True
    if condition.vip is not None and condition.vip != customer.vip:
        return False
    return not condition.segments or bool(customer.segments & set(condition.segments))


def classify(
    interaction: Interaction, rules: RuleSet, customer: CustomerAttributes
) -> Classification:
    """The rules' classification of ``interaction``, memoised per rule set by everything
    it depends on: the interaction's channel, provider, integration, kind and language,
    the customer's attributes, the outcome of each rule's text tests (keywords, regexes:
    the only parts that read the text, run here every time), and the routing hints.
    Interactions mostly share these, and the rule loop (``classify_by_rules``) cost
    ~60 K instructions per new conversation with the sample rules (callgrind): a memo
    hit costs the text tests and the key."""
    fields = interaction.__dict__  # field reads (intake.py)
    body = fields["body"].__dict__
    subject, text = fields["subject"] or "", body["text"]
    language = _language(fields, body["language"], subject, text)
    hints = fields["routing_hints"].__dict__
    global _memo
    memo = _memo
    if memo[0] is not rules:
        memo = _memo = (rules, _text_matchers(rules), {})
    # each rule's text tests hold or not (tests are pure: running those of a rule that an
    # earlier part or a ``stop`` would skip changes nothing but the key)
    outcomes = []
    for matchers in memo[1]:
        for matches in matchers:
            if not matches(subject, text):
                outcomes.append(False)
                break
        else:
            outcomes.append(True)
    key = (
        fields["channel"],
        fields["provider"],
        fields["integration"],
        fields["kind"],
        language,
        customer,
        tuple(outcomes),
        hints["queue"],
        hints["priority"],
        tuple(hints["tags"]),
    )
    results = memo[2]
    result = results.get(key)
    if result is None:
        result = classify_by_rules(interaction, rules, customer, language)
        if len(results) < _MEMO_SIZE:
            results[key] = result
    return result


def _text_matchers(rules: RuleSet) -> tuple[tuple[TextMatcher, ...], ...]:
    """Each rule's text matchers, for the rules that have any
    (``RuleCondition.text_matchers``)."""
    return tuple(rule.when.text_matchers for rule in rules.rules if rule.when.text_matchers)


#: ``classify``'s memo: the rule set it is for (the current one, compared by identity:
#: a reload brings a new one), its rules' text tests, and the classifications by key;
#: one tuple, so a thread reads a consistent set
_memo: tuple[
    RuleSet | None, tuple[tuple[TextMatcher, ...], ...], dict[tuple[object, ...], Classification]
] = (
    None,
    (),
    {},
)
#: classifications kept per rule set (keys are a handful of channels, integrations,
#: languages and hints; past this many, the rest are worked out each time)
_MEMO_SIZE = 4096


def classify_by_rules(
    interaction: Interaction, rules: RuleSet, customer: CustomerAttributes, language: str | None
) -> Classification:
    """The rules run in order over ``interaction`` (``classify`` without its memo)."""
    hints = interaction.routing_hints
    queue: str | None = None
    priority: Priority | None = None
    tags: list[str] = list(hints.tags)
    skills: list[str] = []
    matched: list[str] = []
    for rule in rules.rules:
        # every part of the condition that is set holds (``RuleCondition.tests``,
        # cheapest first; stops at the first that fails)
        for test in rule.when.tests:
            if not test(interaction, language, customer):
                break
        else:
            matched.append(rule.name)
            then = rule.then
            queue = queue or then.queue
            priority = priority or then.priority
            tags.extend(then.tags)
            skills.extend(then.skills)
            if rule.stop:
                break
    return Classification(
        queue=queue or hints.queue or rules.defaults.queue,
        priority=priority or _hint_priority(hints.priority) or rules.defaults.priority,
        language=language,
        tags=tuple(dict.fromkeys(tags)),
        skills=tuple(dict.fromkeys(skills)),
        matched_rules=tuple(matched),
    )


def _hint_priority(value: str | None) -> Priority | None:
    try:
        return Priority(value) if value else None
    except ValueError:
        return None

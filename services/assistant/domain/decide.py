"""One customer turn in, one decision out: answer, hand off, or resolve.

Pure: the retrieval is passed in as a function, the conversation state as
plain data; no I/O, no clock. The order of the rules is the policy:
unreadable input → asked for a person / legal threat / complaint → feedback
on the previous answer → confidence → the article's own handoff flag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from services.assistant.domain.conversation import (
    AssistantStatus,
    AssistantTrigger,
    is_active,
    next_status,
)
from services.assistant.domain.signals import (
    Feedback,
    asks_for_person,
    complaint_or_anger,
    legal_threat,
    read_feedback,
)
from services.assistant.retrieval.index import Hit, Retrieval
from services.assistant.retrieval.language import Language, detect_language, has_letters


class HandoffReason(StrEnum):
    EMPTY_MESSAGE = "empty_message"
    TOO_LONG = "too_long"
    NO_TEXT = "no_text"  # emoji, digits or punctuation only
    OTHER_LANGUAGE = "other_language"
    ASKED_FOR_PERSON = "asked_for_person"
    LEGAL_THREAT = "legal_threat"
    COMPLAINT = "complaint"
    LOW_CONFIDENCE = "low_confidence"
    ARTICLE_REQUIRES_PERSON = "article_requires_person"
    ANSWER_NOT_HELPFUL = "answer_not_helpful"
    TOO_MANY_QUESTIONS = "too_many_questions"


class Action(StrEnum):
    ANSWER = "answer"
    HAND_OFF = "hand_off"
    RESOLVE = "resolve"


class Resolution(StrEnum):
    CONFIRMED = "customer_confirmed"
    QUIET_TIMEOUT = "quiet_timeout"


@dataclass(frozen=True, slots=True)
class Policy:
    threshold: float
    max_message_chars: int = 2000
    #: Answers before the assistant stops trying; "the second answer did not help".
    max_answers: int = 2


@dataclass(frozen=True, slots=True)
class ConversationState:
    """What the router recorded of the assistant's earlier turns."""

    status: AssistantStatus = AssistantStatus.OFFERED
    answers_given: int = 0
    last_article_id: str | None = None
    last_question: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    next_status: AssistantStatus
    language: Language
    confidence: float = 0.0
    #: Sent to the customer; with HAND_OFF it is an article written for a handover.
    article_id: str | None = None
    handoff_reason: HandoffReason | None = None
    resolution: Resolution | None = None
    #: The runner-ups, for the transcript an agent sees.
    candidates: tuple[Hit, ...] = ()


Search = Callable[[str], Retrieval]


def screen(text: str, policy: Policy) -> tuple[Language, HandoffReason | None]:
    """Messages the assistant must not try to answer, whatever they say."""
    stripped = text.strip()
    if not stripped:
        return Language.OTHER, HandoffReason.EMPTY_MESSAGE
    if len(stripped) > policy.max_message_chars:
        return detect_language(stripped[:2000]), HandoffReason.TOO_LONG
    if not has_letters(stripped):
        return Language.OTHER, HandoffReason.NO_TEXT
    language = detect_language(stripped)
    if language is Language.OTHER:
        return language, HandoffReason.OTHER_LANGUAGE
    return language, None


def decide_turn(
    text: str,
    state: ConversationState,
    *,
    search: Search,
    handoff_articles: frozenset[str],
    policy: Policy,
) -> Decision:
    if not is_active(state.status):
        raise ValueError(f"the assistant no longer holds this conversation ({state.status})")
    language, refused = screen(text, policy)
    if refused:
        return _hand_off(state, language, refused)
    retrieval = search(text)
    confident = _confident_hit(retrieval, policy, exclude=None)
    rule = _rule_reason(text)
    if rule:
        article = confident if confident and confident.article_id in handoff_articles else None
        return _hand_off(state, language, rule, retrieval, article)
    if state.status is AssistantStatus.AWAITING_FEEDBACK:
        after = _after_feedback(text, state, language, retrieval, search, handoff_articles, policy)
        if after is not None:
            return after
    return _answer_or_hand_off(state, language, retrieval, confident, handoff_articles, policy)


def decide_quiet_timeout(state: ConversationState) -> Decision | None:
    """The customer stayed quiet after an answer: resolved (deflected). None: nothing to do."""
    if state.status is not AssistantStatus.AWAITING_FEEDBACK:
        return None
    return Decision(
        Action.RESOLVE,
        next_status(state.status, AssistantTrigger.QUIET_TIMEOUT),
        Language.OTHER,
        article_id=state.last_article_id,
        resolution=Resolution.QUIET_TIMEOUT,
    )


def _rule_reason(text: str) -> HandoffReason | None:
    if asks_for_person(text):
        return HandoffReason.ASKED_FOR_PERSON
    if legal_threat(text):
        return HandoffReason.LEGAL_THREAT
    if complaint_or_anger(text):
        return HandoffReason.COMPLAINT
    return None


def _after_feedback(
    text: str,
    state: ConversationState,
    language: Language,
    retrieval: Retrieval,
    search: Search,
    handoff_articles: frozenset[str],
    policy: Policy,
) -> Decision | None:
    feedback = read_feedback(text)
    if feedback.kind == Feedback.HELPED and not feedback.has_question:
        return Decision(
            Action.RESOLVE,
            next_status(state.status, AssistantTrigger.CONFIRMED),
            language,
            article_id=state.last_article_id,
            resolution=Resolution.CONFIRMED,
        )
    if feedback.kind != Feedback.NOT_HELPED:
        return None  # a new question: answered like the first one
    if state.answers_given >= policy.max_answers:
        return _hand_off(state, language, HandoffReason.ANSWER_NOT_HELPFUL, retrieval)
    if not feedback.has_question and state.last_question:
        retrieval = search(state.last_question)  # "no": try the next article for the question
    alternative = _confident_hit(retrieval, policy, exclude=state.last_article_id)
    if alternative is None:
        return _hand_off(state, language, HandoffReason.ANSWER_NOT_HELPFUL, retrieval)
    return _answer_or_hand_off(state, language, retrieval, alternative, handoff_articles, policy)


def _answer_or_hand_off(
    state: ConversationState,
    language: Language,
    retrieval: Retrieval,
    hit: Hit | None,
    handoff_articles: frozenset[str],
    policy: Policy,
) -> Decision:
    if hit is None:
        return _hand_off(state, language, HandoffReason.LOW_CONFIDENCE, retrieval)
    if state.answers_given >= policy.max_answers:
        return _hand_off(state, language, HandoffReason.TOO_MANY_QUESTIONS, retrieval)
    if hit.article_id in handoff_articles:
        return _hand_off(state, language, HandoffReason.ARTICLE_REQUIRES_PERSON, retrieval, hit)
    answered = next_status(state.status, AssistantTrigger.ANSWER)
    return Decision(
        Action.ANSWER,
        next_status(answered, AssistantTrigger.ASK_FEEDBACK),
        language,
        confidence=retrieval.confidence,
        article_id=hit.article_id,
        candidates=retrieval.hits,
    )


def _confident_hit(retrieval: Retrieval, policy: Policy, *, exclude: str | None) -> Hit | None:
    hits = [h for h in retrieval.hits if h.article_id != exclude]
    if not hits:
        return None
    if exclude is None or (retrieval.top and retrieval.top.article_id != exclude):
        return hits[0] if retrieval.confidence >= policy.threshold else None
    # The best article already failed; the runner-up must stand on its own score.
    ratio = hits[0].score / retrieval.top.score if retrieval.top and retrieval.top.score else 0
    return hits[0] if retrieval.confidence * ratio >= policy.threshold else None


def _hand_off(
    state: ConversationState,
    language: Language,
    reason: HandoffReason,
    retrieval: Retrieval | None = None,
    article: Hit | None = None,
) -> Decision:
    return Decision(
        Action.HAND_OFF,
        next_status(state.status, AssistantTrigger.HAND_OFF),
        language,
        confidence=retrieval.confidence if retrieval else 0.0,
        article_id=article.article_id if article else None,
        handoff_reason=reason,
        candidates=retrieval.hits if retrieval else (),
    )


def remember(state: ConversationState, decision: Decision, question: str) -> ConversationState:
    """The state after ``decision`` (what the router records from the assistant's events)."""
    answered = decision.action is Action.ANSWER
    return replace(
        state,
        status=decision.next_status,
        answers_given=state.answers_given + (1 if answered else 0),
        last_article_id=decision.article_id if answered else state.last_article_id,
        last_question=question if answered else state.last_question,
    )

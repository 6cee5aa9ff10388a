"""A turn request and its decision → the assistant's events (pure).

Event ids are derived from the turn's own event id, so a redelivered turn
produces the very same events and downstream consumers drop the copies.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from libs.common.cloudevents import CloudEvent
from libs.common.events.assistant import (
    AssistantAnswered,
    AssistantHandedOff,
    AssistantResolved,
    AssistantState,
    AssistantTurnRequested,
)
from libs.common.ids import deterministic_id
from services.assistant.domain.conversation import AssistantStatus
from services.assistant.domain.decide import Action, ConversationState, Decision
from services.assistant.engine import Engine

#: Quick replies offered under an answer, per language ("did this help?").
QUICK_REPLIES = {
    "ko": ["도움이 됐어요", "상담원 연결"],
    "en": ["That helped", "Talk to a person"],
}
#: Appended to an answer: asks whether it helped.
HELPED_QUESTION = {
    "ko": "이 답변이 도움이 되었나요? 해결되지 않았다면 '상담원 연결'이라고 남겨 주세요.",
    "en": "Did this answer your question? If not, reply 'talk to a person'.",
}
CUSTOMER_TEXT_CAP = 2000


def state_of(turn: AssistantTurnRequested) -> ConversationState:
    s = turn.state
    return ConversationState(
        status=AssistantStatus(s.status),
        answers_given=s.answers_given,
        last_article_id=s.last_article_id,
        last_question=s.last_question,
    )


def events_for(
    cause: CloudEvent,
    turn: AssistantTurnRequested,
    decision: Decision,
    engine: Engine,
    *,
    now: datetime,
    quiet_timeout: timedelta,
    source: str,
) -> list[CloudEvent]:
    common = {
        "conversation": turn.conversation,
        "occurred_at": now,
        "cause_event_id": cause.id,
        "turn_id": turn.turn_id,
        "language": decision.language.value,
    }
    events: list[CloudEvent] = []
    if decision.article_id and decision.action in (Action.ANSWER, Action.HAND_OFF):
        handing_off = decision.action is Action.HAND_OFF
        language, answer = engine.answer_text(decision.article_id, decision.language.value)
        text = answer if handing_off else f"{answer}\n\n{HELPED_QUESTION[language]}"
        answered = AssistantAnswered(
            **{**common, "language": language},
            article_id=decision.article_id,
            article_title=engine.title(decision.article_id, language),
            text=text,
            quick_replies=[] if handing_off else QUICK_REPLIES[language],
            confidence=round(decision.confidence, 4),
            answer_number=turn.state.answers_given + 1,
            handoff_follows=handing_off,
            quiet_check_at=None if handing_off else now + quiet_timeout,
        )
        events.append(_event("answered", cause, answered, source, turn))
    if decision.action is Action.HAND_OFF:
        assert decision.handoff_reason is not None
        handed = AssistantHandedOff(
            **common,
            reason=decision.handoff_reason.value,
            confidence=round(decision.confidence, 4),
            article_id=decision.article_id,
            candidates=[hit.article_id for hit in decision.candidates[:3]],
            customer_text=turn.text[:CUSTOMER_TEXT_CAP],
            answers_given=turn.state.answers_given,
            last_article_id=turn.state.last_article_id,
        )
        events.append(_event("handed_off", cause, handed, source, turn))
    if decision.action is Action.RESOLVE:
        assert decision.resolution is not None
        resolved = AssistantResolved(
            **common, resolution=decision.resolution.value, article_id=decision.article_id
        )
        events.append(_event("resolved", cause, resolved, source, turn))
    return events


def _event(
    kind: str,
    cause: CloudEvent,
    data: AssistantAnswered | AssistantHandedOff | AssistantResolved,
    source: str,
    turn: AssistantTurnRequested,
) -> CloudEvent:
    return CloudEvent(
        id=deterministic_id(f"assistant.{kind}", cause.id),
        source=source,
        type=data.ce_type,
        data=data,
        time=data.occurred_at,
        subject=turn.conversation.conversation_id,
    )


def next_state(turn: AssistantTurnRequested, decision: Decision) -> AssistantState:
    """What the router records after these events (documented for the integration)."""
    answered = decision.action is Action.ANSWER
    return AssistantState(
        status=decision.next_status.value,
        answers_given=turn.state.answers_given + (1 if answered else 0),
        last_article_id=decision.article_id if answered else turn.state.last_article_id,
        last_question=turn.text if answered else turn.state.last_question,
    )

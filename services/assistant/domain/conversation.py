"""The assistant's part of a conversation: an explicit transition table.

offered → answered → awaiting_feedback → resolved (customer confirms, or stays
quiet for the configured time) — or handed_off to a person from any active
state. A follow-up question while awaiting feedback is answered again.
"""

from __future__ import annotations

from enum import StrEnum


class AssistantStatus(StrEnum):
    OFFERED = "offered"  # the router gave the conversation to the assistant
    ANSWERED = "answered"  # an article was sent
    AWAITING_FEEDBACK = "awaiting_feedback"  # "did this help?" was asked
    RESOLVED = "resolved"  # deflected: no person needed
    HANDED_OFF = "handed_off"  # a person takes over; the assistant is done


class AssistantTrigger(StrEnum):
    ANSWER = "answer"
    ASK_FEEDBACK = "ask_feedback"
    CONFIRMED = "confirmed"  # the customer said it helped
    QUIET_TIMEOUT = "quiet_timeout"  # nothing heard for the configured time
    HAND_OFF = "hand_off"


class InvalidAssistantTransition(ValueError):
    """The trigger does not apply to a conversation in this status."""


S = AssistantStatus
T = AssistantTrigger

TRANSITIONS: dict[tuple[AssistantStatus, AssistantTrigger], AssistantStatus] = {
    (S.OFFERED, T.ANSWER): S.ANSWERED,
    (S.OFFERED, T.HAND_OFF): S.HANDED_OFF,
    (S.ANSWERED, T.ASK_FEEDBACK): S.AWAITING_FEEDBACK,
    (S.ANSWERED, T.HAND_OFF): S.HANDED_OFF,
    (S.AWAITING_FEEDBACK, T.ANSWER): S.ANSWERED,
    (S.AWAITING_FEEDBACK, T.CONFIRMED): S.RESOLVED,
    (S.AWAITING_FEEDBACK, T.QUIET_TIMEOUT): S.RESOLVED,
    (S.AWAITING_FEEDBACK, T.HAND_OFF): S.HANDED_OFF,
}

ACTIVE = frozenset({S.OFFERED, S.ANSWERED, S.AWAITING_FEEDBACK})


def next_status(current: AssistantStatus, trigger: AssistantTrigger) -> AssistantStatus:
    try:
        return TRANSITIONS[(current, trigger)]
    except KeyError:
        raise InvalidAssistantTransition(
            f"cannot {trigger.value} a conversation the assistant has {current.value}"
        ) from None


def is_active(status: AssistantStatus) -> bool:
    return status in ACTIVE

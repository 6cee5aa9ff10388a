"""Conversation status: an explicit transition table."""

from __future__ import annotations

from enum import StrEnum


class ConversationStatus(StrEnum):
    OPEN = "open"  # the customer waits for us
    WAITING_ON_CUSTOMER = "waiting_on_customer"  # we answered; clocks paused
    RESOLVED = "resolved"


class LifecycleTrigger(StrEnum):
    CUSTOMER_MESSAGE = "customer_message"
    AGENT_RESPONSE = "agent_response"
    RESOLVE = "resolve"
    REOPEN = "reopen"


class InvalidTransition(ValueError):
    """The requested change does not apply to a conversation in this status."""


S = ConversationStatus
T = LifecycleTrigger

TRANSITIONS: dict[tuple[ConversationStatus, LifecycleTrigger], ConversationStatus] = {
    (S.OPEN, T.CUSTOMER_MESSAGE): S.OPEN,
    (S.OPEN, T.AGENT_RESPONSE): S.WAITING_ON_CUSTOMER,
    (S.OPEN, T.RESOLVE): S.RESOLVED,
    (S.WAITING_ON_CUSTOMER, T.CUSTOMER_MESSAGE): S.OPEN,
    (S.WAITING_ON_CUSTOMER, T.AGENT_RESPONSE): S.WAITING_ON_CUSTOMER,
    (S.WAITING_ON_CUSTOMER, T.RESOLVE): S.RESOLVED,
    (S.RESOLVED, T.REOPEN): S.OPEN,
}

ACTIVE_STATUSES = frozenset({S.OPEN, S.WAITING_ON_CUSTOMER})


def next_status(current: ConversationStatus, trigger: LifecycleTrigger) -> ConversationStatus:
    try:
        return TRANSITIONS[(current, trigger)]
    except KeyError:
        raise InvalidTransition(
            f"cannot {trigger.value} a conversation that is {current}"
        ) from None


def is_active(status: ConversationStatus | str) -> bool:
    return ConversationStatus(status) in ACTIVE_STATUSES

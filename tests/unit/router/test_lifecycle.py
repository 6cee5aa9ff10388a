import pytest

from services.router.domain.lifecycle import (
    TRANSITIONS,
    ConversationStatus,
    InvalidTransition,
    LifecycleTrigger,
    is_active,
    next_status,
)

S, T = ConversationStatus, LifecycleTrigger


@pytest.mark.parametrize(
    ("current", "trigger", "expected"),
    [
        (S.OPEN, T.AGENT_RESPONSE, S.WAITING_ON_CUSTOMER),
        (S.WAITING_ON_CUSTOMER, T.CUSTOMER_MESSAGE, S.OPEN),
        (S.OPEN, T.CUSTOMER_MESSAGE, S.OPEN),
        (S.OPEN, T.RESOLVE, S.RESOLVED),
        (S.WAITING_ON_CUSTOMER, T.RESOLVE, S.RESOLVED),
        (S.RESOLVED, T.REOPEN, S.OPEN),
    ],
)
def test_allowed_transitions(current, trigger, expected):
    assert next_status(current, trigger) is expected


@pytest.mark.parametrize(
    ("current", "trigger"),
    [
        (S.RESOLVED, T.RESOLVE),
        (S.OPEN, T.REOPEN),
        (S.RESOLVED, T.AGENT_RESPONSE),
        (S.RESOLVED, T.CUSTOMER_MESSAGE),
    ],
)
def test_refused_transitions(current, trigger):
    with pytest.raises(InvalidTransition):
        next_status(current, trigger)


def test_table_is_explicit_and_only_resolved_is_inactive():
    assert len(TRANSITIONS) == 7
    assert is_active("open") and is_active("waiting_on_customer") and not is_active("resolved")

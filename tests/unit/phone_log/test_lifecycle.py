from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from libs.common.events import Direction, InteractionKind
from services.phone_log.lifecycle import (
    PHASES,
    TERMINAL_PHASES,
    TRANSITIONS,
    CallStatus,
    advance,
    callback_requested,
    fold,
    phase_of,
)

PHASE_KINDS = [
    InteractionKind.CALL_STARTED,
    InteractionKind.CALL_ANSWERED,
    InteractionKind.CALL_ENDED,
    InteractionKind.CALL_MISSED,
    InteractionKind.VOICEMAIL,
]


def test_every_status_in_both_directions_has_a_phase():
    assert set(PHASES) == set(itertools.product(CallStatus, Direction))


def test_transition_table_is_complete():
    assert set(TRANSITIONS) == set(itertools.product([None, *PHASE_KINDS], PHASE_KINDS))


def test_missed_vocabulary():
    for status in (
        CallStatus.NO_ANSWER,
        CallStatus.BUSY,
        CallStatus.CANCELLED,
        CallStatus.ABANDONED,
    ):
        assert phase_of(status, Direction.INBOUND) is InteractionKind.CALL_MISSED


def test_failed_is_missed_inbound_but_ended_outbound():
    assert phase_of(CallStatus.FAILED, Direction.INBOUND) is InteractionKind.CALL_MISSED
    assert phase_of(CallStatus.FAILED, Direction.OUTBOUND) is InteractionKind.CALL_ENDED


def test_callback_only_for_inbound_calls_nobody_took():
    assert callback_requested(InteractionKind.CALL_MISSED, Direction.INBOUND)
    assert callback_requested(InteractionKind.VOICEMAIL, Direction.INBOUND)
    assert not callback_requested(InteractionKind.CALL_MISSED, Direction.OUTBOUND)
    assert not callback_requested(InteractionKind.CALL_ENDED, Direction.INBOUND)


def test_a_late_ringing_never_reopens_a_finished_call():
    for terminal in TERMINAL_PHASES:
        assert advance(terminal, InteractionKind.CALL_STARTED) is terminal
        assert advance(terminal, InteractionKind.CALL_ANSWERED) is terminal


def test_completed_before_in_progress_ends_the_same():
    in_order = [
        InteractionKind.CALL_STARTED,
        InteractionKind.CALL_ANSWERED,
        InteractionKind.CALL_ENDED,
    ]
    assert fold(in_order) is InteractionKind.CALL_ENDED
    assert fold(reversed(in_order)) is InteractionKind.CALL_ENDED


@given(st.lists(st.sampled_from(PHASE_KINDS), min_size=1, max_size=8), st.randoms())
def test_fold_does_not_depend_on_order_or_repeats(phases, rnd):
    shuffled = list(phases)
    rnd.shuffle(shuffled)
    assert fold(phases) == fold(shuffled) == fold(phases + shuffled)


def test_fold_of_nothing_is_nothing():
    assert fold([]) is None

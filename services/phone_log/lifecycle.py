"""Call lifecycle: every provider's vocabulary mapped onto one set of phases.

Each callback is mapped on its own, from its own fields, to one phase
(:func:`phase_of`); nothing here remembers earlier callbacks, so the order in
which a provider delivers them cannot change what any single one means.

Consumers that fold the phases of one call into its current state use
:data:`TRANSITIONS`: an explicit table that only ever moves forward, built so
that folding the same set of events in any order ends in the same phase.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from libs.common.events import Direction, InteractionKind


class CallStatus(StrEnum):
    """Our status vocabulary (``CallDetails.status``); provider words map onto it."""

    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"
    FORWARDED = "forwarded"
    RECORDED = "recorded"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"
    FAILED = "failed"
    VOICEMAIL = "voicemail"


STARTED = InteractionKind.CALL_STARTED
ANSWERED = InteractionKind.CALL_ANSWERED
ENDED = InteractionKind.CALL_ENDED
MISSED = InteractionKind.CALL_MISSED
VOICEMAIL = InteractionKind.VOICEMAIL
IN = Direction.INBOUND
OUT = Direction.OUTBOUND

#: (our status, direction) -> phase. A failed outbound call is our own attempt
#: that did not connect (ended); a failed inbound call is a customer we missed.
PHASES: dict[tuple[CallStatus, Direction], InteractionKind] = {
    (CallStatus.RINGING, IN): STARTED,
    (CallStatus.RINGING, OUT): STARTED,
    (CallStatus.ANSWERED, IN): ANSWERED,
    (CallStatus.ANSWERED, OUT): ANSWERED,
    (CallStatus.COMPLETED, IN): ENDED,
    (CallStatus.COMPLETED, OUT): ENDED,
    (CallStatus.FORWARDED, IN): ENDED,
    (CallStatus.FORWARDED, OUT): ENDED,
    (CallStatus.RECORDED, IN): ENDED,
    (CallStatus.RECORDED, OUT): ENDED,
    (CallStatus.NO_ANSWER, IN): MISSED,
    (CallStatus.NO_ANSWER, OUT): MISSED,
    (CallStatus.BUSY, IN): MISSED,
    (CallStatus.BUSY, OUT): MISSED,
    (CallStatus.CANCELLED, IN): MISSED,
    (CallStatus.CANCELLED, OUT): MISSED,
    (CallStatus.ABANDONED, IN): MISSED,
    (CallStatus.ABANDONED, OUT): MISSED,
    (CallStatus.FAILED, IN): MISSED,
    (CallStatus.FAILED, OUT): ENDED,
    (CallStatus.VOICEMAIL, IN): VOICEMAIL,
    (CallStatus.VOICEMAIL, OUT): VOICEMAIL,
}

#: (current phase, incoming phase) -> next phase. ``None`` is "nothing seen yet".
#: The order is started < answered < ended < missed < voicemail: a late
#: ``ringing`` never reopens an ended call, and between two terminal phases the
#: one that still needs a person (a missed call, a voicemail) wins.
TRANSITIONS: dict[tuple[InteractionKind | None, InteractionKind], InteractionKind] = {
    (None, STARTED): STARTED,
    (None, ANSWERED): ANSWERED,
    (None, ENDED): ENDED,
    (None, MISSED): MISSED,
    (None, VOICEMAIL): VOICEMAIL,
    (STARTED, STARTED): STARTED,
    (STARTED, ANSWERED): ANSWERED,
    (STARTED, ENDED): ENDED,
    (STARTED, MISSED): MISSED,
    (STARTED, VOICEMAIL): VOICEMAIL,
    (ANSWERED, STARTED): ANSWERED,
    (ANSWERED, ANSWERED): ANSWERED,
    (ANSWERED, ENDED): ENDED,
    (ANSWERED, MISSED): MISSED,
    (ANSWERED, VOICEMAIL): VOICEMAIL,
    (ENDED, STARTED): ENDED,
    (ENDED, ANSWERED): ENDED,
    (ENDED, ENDED): ENDED,
    (ENDED, MISSED): MISSED,
    (ENDED, VOICEMAIL): VOICEMAIL,
    (MISSED, STARTED): MISSED,
    (MISSED, ANSWERED): MISSED,
    (MISSED, ENDED): MISSED,
    (MISSED, MISSED): MISSED,
    (MISSED, VOICEMAIL): VOICEMAIL,
    (VOICEMAIL, STARTED): VOICEMAIL,
    (VOICEMAIL, ANSWERED): VOICEMAIL,
    (VOICEMAIL, ENDED): VOICEMAIL,
    (VOICEMAIL, MISSED): VOICEMAIL,
    (VOICEMAIL, VOICEMAIL): VOICEMAIL,
}

TERMINAL_PHASES = frozenset({ENDED, MISSED, VOICEMAIL})


def phase_of(status: CallStatus, direction: Direction) -> InteractionKind:
    return PHASES[(status, direction)]


def callback_requested(phase: InteractionKind, direction: Direction) -> bool:
    """An inbound call nobody took (missed, or a voicemail left): call the customer back."""
    return direction is Direction.INBOUND and phase in (MISSED, VOICEMAIL)


def advance(current: InteractionKind | None, incoming: InteractionKind) -> InteractionKind:
    return TRANSITIONS[(current, incoming)]


def fold(phases: Iterable[InteractionKind]) -> InteractionKind | None:
    """The state of one call after all its phases, whatever order they came in."""
    current: InteractionKind | None = None
    for phase in phases:
        current = advance(current, phase)
    return current

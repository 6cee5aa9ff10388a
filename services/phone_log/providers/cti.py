"""Generic CTI events (sipgate.io / placetel style): ``newCall``, ``answer``, ``hangup``.

Sent as a form (``user[]=Anna&user[]=Ben``) or JSON. The event id is
``deterministic_id("cti", integration, callId, event)``. Placetel-style names
are read too: ``IncomingCall``/``OutgoingCall``, ``CallAccepted``, ``HungUp``
with ``call_id`` and the outcome in ``type``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from libs.common.events import Direction
from libs.common.ids import deterministic_id
from services.phone_log.calls import CallFacts, PayloadError
from services.phone_log.lifecycle import CallStatus
from services.phone_log.providers.fields import (
    Fields,
    epoch_to_datetime,
    required,
    text,
    texts,
)

PROVIDER = "cti"

#: ``hangup`` ``cause`` -> our status, for a call that was never answered.
HANGUP_CAUSES: dict[str, CallStatus] = {
    "normalclearing": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "cancel": CallStatus.CANCELLED,
    "noanswer": CallStatus.NO_ANSWER,
    "congestion": CallStatus.FAILED,
    "notfound": CallStatus.FAILED,
    "forwarded": CallStatus.FORWARDED,
    # placetel `type` on HungUp
    "accepted": CallStatus.COMPLETED,
    "missed": CallStatus.NO_ANSWER,
    "canceled": CallStatus.CANCELLED,
    "voicemail": CallStatus.VOICEMAIL,
    "unavailable": CallStatus.FAILED,
}

_UNANSWERED = frozenset({CallStatus.BUSY, CallStatus.CANCELLED, CallStatus.NO_ANSWER})

EVENTS = ("newCall", "answer", "hangup")
#: Lower-cased event name (ours and placetel's) -> ours.
EVENT_NAMES: dict[str, str] = {
    **{name.lower(): name for name in EVENTS},
    "incomingcall": "newCall",
    "outgoingcall": "newCall",
    "callaccepted": "answer",
    "hungup": "hangup",
}


def parse_event(fields: Fields, *, integration_id: str) -> CallFacts:
    # Each field is read once and passed on: reading the same ones again (the event, the
    # cause, the direction, the answering number) was ~a third of the field reads.
    raw_event = required(fields, "event")
    event = _event(raw_event)
    call_id = text(fields, "callId", "call_id")
    if call_id is None:
        raise PayloadError("missing field 'callId'")
    cause = _cause(fields)
    answering = text(fields, "answeringNumber")
    stated = text(fields, "direction")
    at = _timestamp(fields)
    return CallFacts(
        provider=PROVIDER,
        event_id=deterministic_id("cti", integration_id, call_id, event),
        call_id=call_id,
        group_id=text(fields, "originalCallId") or call_id,
        status=_status(event, cause, answering),
        provider_status=event if event != "hangup" else f"hangup:{cause or ''}",
        direction=_direction(stated, raw_event),
        direction_stated=stated is not None or raw_event.lower() in _PLACETEL_CALLS,
        from_raw=text(fields, "from"),
        to_raw=text(fields, "to"),
        occurred_at=at,
        started_at=at if event == "newCall" else None,
        answered_at=at if event == "answer" else None,
        ended_at=at if event == "hangup" else None,
        hangup_cause=cause if event == "hangup" else None,
        answered_by=_answered_by(event, fields, answering),
        queue=text(fields, "queue"),
    )


#: placetel's call events: they state the direction in their name.
_PLACETEL_CALLS = ("incomingcall", "outgoingcall")


def _event(raw: str) -> str:
    event = EVENT_NAMES.get(raw.lower())
    if event is None:
        raise PayloadError(f"unknown CTI event {raw!r}; expected one of {', '.join(EVENTS)}")
    return event


def _status(event: str, cause: str | None, answering: str | None) -> CallStatus:
    if event == "newCall":
        return CallStatus.RINGING
    if event == "answer":
        return CallStatus.ANSWERED
    status = HANGUP_CAUSES.get(
        (cause or "normalClearing").replace("_", "").lower(), CallStatus.FAILED
    )
    if status in _UNANSWERED and answering:
        # An answering number in the hangup itself means someone took the call.
        return CallStatus.COMPLETED
    return status


def _cause(fields: Fields) -> str | None:
    return text(fields, "cause", "type")


def _direction(stated: str | None, raw_event: str) -> Direction:
    raw = (stated or "").lower()
    if not raw and raw_event.lower() == "outgoingcall":
        return Direction.OUTBOUND
    return Direction.OUTBOUND if raw in ("out", "outbound", "outgoing") else Direction.INBOUND


def _answered_by(event: str, fields: Fields, answering: str | None) -> str | None:
    if event == "answer":
        users = texts(fields, "user[]", "user", "fullUserId[]", "userId[]")
        return users[0] if users else answering
    if event == "hangup":
        # On newCall and hangup, user[] lists who it rang at, not who took it.
        return answering
    return None


def _timestamp(fields: Fields) -> datetime | None:
    value = text(fields, "timestamp", "time")
    if value is None:
        return None
    if value.isdigit():
        return epoch_to_datetime(int(value))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

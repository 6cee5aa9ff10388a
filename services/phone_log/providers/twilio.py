"""Twilio Voice: call status callbacks and recording callbacks (form-encoded).

Each callback is mapped from its own fields only. The event id is
``deterministic_id("twilio.voice", CallSid, CallStatus)``, so a repeated
callback is the same event and ``completed`` arriving before ``in-progress``
still yields one ended and one answered event, each complete in itself.
"""

from __future__ import annotations

from datetime import datetime

from libs.common.events import Direction
from libs.common.ids import deterministic_id
from services.phone_log.calls import CallFacts, PayloadError
from services.phone_log.lifecycle import CallStatus
from services.phone_log.providers.fields import Fields, required, rfc2822, seconds, text

PROVIDER = "twilio"

#: Twilio ``CallStatus`` -> our status.
CALL_STATUSES: dict[str, CallStatus] = {
    "queued": CallStatus.RINGING,
    "initiated": CallStatus.RINGING,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.ANSWERED,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "canceled": CallStatus.CANCELLED,
    "failed": CallStatus.FAILED,
}

#: Twilio ``Direction`` -> ours; ``outbound-dial`` is a <Dial> leg placed by us.
DIRECTIONS: dict[str, Direction] = {
    "inbound": Direction.INBOUND,
    "outbound-api": Direction.OUTBOUND,
    "outbound-dial": Direction.OUTBOUND,
    "outbound": Direction.OUTBOUND,
    # Elastic SIP Trunking: terminating = PSTN to our PBX, originating = our PBX out.
    "trunking-terminating": Direction.INBOUND,
    "trunking-originating": Direction.OUTBOUND,
}

#: Statuses of a <Dial> leg that mean its callee took the call.
_TAKEN = frozenset({CallStatus.ANSWERED, CallStatus.COMPLETED})

#: ``RecordingSource`` of a voicemail (the <Record> verb); other sources record a conversation.
VOICEMAIL_SOURCES = frozenset({"RecordVerb"})


def parse_status_callback(params: Fields) -> CallFacts:
    call_sid = required(params, "CallSid")
    provider_status = required(params, "CallStatus").lower()
    status = CALL_STATUSES.get(provider_status)
    if status is None:
        raise PayloadError(f"unknown CallStatus {provider_status!r}")
    at = rfc2822(params, "Timestamp")
    leg = _is_dial_leg(params)
    return CallFacts(
        provider=PROVIDER,
        event_id=deterministic_id("twilio.voice", call_sid, provider_status),
        call_id=call_sid,
        group_id=text(params, "ParentCallSid") or call_sid,
        status=status,
        provider_status=provider_status,
        direction=_direction(params),
        from_raw=text(params, "From", "Caller"),
        to_raw=text(params, "To", "Called"),
        caller_name=text(params, "CallerName"),
        occurred_at=at,
        **_phase_times(status, at),
        duration_seconds=seconds(params, "CallDuration"),
        billable_seconds=seconds(params, "CallDuration"),
        hangup_cause=text(params, "SipResponseCode", "ErrorCode"),
        answered_by=text(params, "To", "Called") if leg and status in _TAKEN else None,
        leg=leg,
    )


def parse_recording_callback(params: Fields) -> CallFacts | None:
    """A finished recording; ``None`` for one still in progress, absent or failed.

    Both the <Record action> request (with From/To) and the
    recordingStatusCallback (without them) carry ``RecordingSid``: they are
    the same event id, so whichever arrives first wins and the other is a repeat.
    """
    call_sid = required(params, "CallSid")
    recording_sid = required(params, "RecordingSid")
    if _recording_state(params) != "completed":
        return None
    knows_numbers = text(params, "From", "Caller") is not None
    status = _recording_status(params)
    return CallFacts(
        provider=PROVIDER,
        event_id=deterministic_id("twilio.recording", recording_sid),
        call_id=call_sid,
        group_id=text(params, "ParentCallSid") or call_sid,
        status=status,
        provider_status=f"recording-{_recording_state(params)}",
        direction=_direction(params),
        from_raw=text(params, "From", "Caller"),
        to_raw=text(params, "To", "Called"),
        caller_name=text(params, "CallerName"),
        occurred_at=rfc2822(params, "RecordingStartTime", "Timestamp"),
        recording_url=text(params, "RecordingUrl"),
        recording_duration_seconds=seconds(params, "RecordingDuration"),
        customer_known=knows_numbers,
    )


def _is_dial_leg(params: Fields) -> bool:
    """A <Dial> leg placed by us (to an agent, a forward target or an outbound customer)."""
    direction = (text(params, "Direction") or "").lower()
    return direction == "outbound-dial" and text(params, "ParentCallSid") is not None


def _direction(params: Fields) -> Direction:
    return DIRECTIONS.get((text(params, "Direction") or "inbound").lower(), Direction.INBOUND)


def _recording_state(params: Fields) -> str:
    # The <Record action> request has no RecordingStatus: a URL means it is done.
    state = text(params, "RecordingStatus")
    if state is None:
        return "completed" if text(params, "RecordingUrl") else "unknown"
    return state.lower()


def _recording_status(params: Fields) -> CallStatus:
    source = text(params, "RecordingSource")
    if source is None or source in VOICEMAIL_SOURCES:
        return CallStatus.VOICEMAIL
    return CallStatus.RECORDED


def _phase_times(status: CallStatus, at: datetime | None) -> dict[str, datetime | None]:
    if status is CallStatus.RINGING:
        return {"started_at": at}
    if status is CallStatus.ANSWERED:
        return {"answered_at": at}
    return {"ended_at": at}

"""HTTP schemas: what each provider posts (for OpenAPI) and what we answer.

Routes read the raw body themselves (signatures are checked on the exact
bytes or form pairs before parsing), so these models document the bodies;
the parsing lives in ``providers/``. Unknown fields are allowed everywhere:
providers add fields without notice.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from libs.common.events import InteractionKind


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class TwilioStatusCallback(_Open):
    """Twilio Voice status callback (``application/x-www-form-urlencoded``)."""

    CallSid: str = Field(..., description="CA… (34 characters).")
    AccountSid: str | None = None
    CallStatus: Literal[
        "queued",
        "initiated",
        "ringing",
        "in-progress",
        "completed",
        "busy",
        "failed",
        "no-answer",
        "canceled",
    ]
    Direction: Literal["inbound", "outbound-api", "outbound-dial"] | None = None
    From: str | None = Field(None, description="Caller, E.164 or `anonymous`.")
    To: str | None = None
    CallDuration: str | None = Field(None, description="Seconds, on `completed`.")
    Timestamp: str | None = Field(
        None, description="RFC 2822, e.g. Mon, 16 Aug 2010 03:45:01 +0000."
    )
    SequenceNumber: str | None = None
    CallbackSource: str | None = None
    ParentCallSid: str | None = Field(None, description="The parent leg of a <Dial> leg.")
    ForwardedFrom: str | None = None
    CallerName: str | None = None
    SipResponseCode: str | None = None


class TwilioRecordingCallback(_Open):
    """Twilio recording status callback, or the <Record action> request."""

    CallSid: str
    RecordingSid: str = Field(..., description="RE…; the dedupe key.")
    AccountSid: str | None = None
    RecordingUrl: str | None = None
    RecordingStatus: Literal["in-progress", "completed", "absent", "failed"] | None = Field(
        None, description="Absent in the <Record action> request (which means completed)."
    )
    RecordingDuration: str | None = None
    RecordingSource: str | None = Field(None, description="RecordVerb for a voicemail.")
    RecordingStartTime: str | None = None
    From: str | None = Field(None, description="Present in the <Record action> request only.")
    To: str | None = None


class AsteriskCdr(_Open):
    """One Asterisk CDR as the dialplan's ``CURL()`` posts it (form or JSON)."""

    uniqueid: str = Field(..., description="The leg's id; the dedupe key.")
    disposition: Literal["ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"]
    linkedid: str | None = Field(None, description="Shared by every leg of one call.")
    clid: str | None = Field(None, description='"Name" <number>.')
    src: str | None = None
    dst: str | None = None
    did: str | None = Field(None, description="The dialled number of an inbound call, if sent.")
    dcontext: str | None = None
    channel: str | None = None
    dstchannel: str | None = Field(None, description="The answering channel, e.g. PJSIP/1001-0002.")
    lastapp: str | None = Field(None, description="Dial, Queue, VoiceMail, …")
    lastdata: str | None = None
    start: str | None = Field(None, description="PBX local time, ISO 8601 or Unix seconds.")
    answer: str | None = None
    end: str | None = None
    duration: str | int | None = None
    billsec: str | int | None = None
    accountcode: str | None = None
    userfield: str | None = None
    direction: Literal["inbound", "outbound"] | None = Field(
        None, description="Optional: the dialplan may say it; else inferred."
    )
    recording_url: str | None = None
    hangupcause: str | None = None
    queue: str | None = None


class FreeswitchCdr(_Open):
    """``mod_json_cdr`` with ``encode=false``: the CDR object itself."""

    channel_data: dict[str, Any] | None = None
    callStats: dict[str, Any] | None = None
    variables: dict[str, Any] = Field(
        ...,
        description="uuid, start_epoch, answer_epoch, end_epoch, duration, billsec, "
        "hangup_cause, caller_id_number, destination_number, last_app, cc_* …; "
        "URL-encoded values when encode-values is on.",
    )
    callflow: list[dict[str, Any]] | dict[str, Any] | None = None


class FreeswitchEncodedCdr(BaseModel):
    """``mod_json_cdr`` with ``encode=true`` (URL-encoded) or ``encode=base64``."""

    cdr: str = Field(..., description="The CDR JSON, URL-encoded or base64.")


class CtiEvent(_Open):
    """A generic CTI event (sipgate.io / placetel style), form or JSON."""

    event: Literal[
        "newCall", "answer", "hangup", "IncomingCall", "OutgoingCall", "CallAccepted", "HungUp"
    ]
    callId: str | None = Field(None, description="The call's id (or `call_id`); required.")
    call_id: str | None = Field(None, description="Placetel's name for callId.")
    type: str | None = Field(
        None, description="Placetel HungUp outcome: accepted, missed, busy, canceled, voicemail…"
    )
    direction: Literal["in", "out"] | None = None
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    user: list[str] | None = Field(None, description="`user[]` in a form.")
    queue: str | None = None
    answeringNumber: str | None = None
    originalCallId: str | None = Field(None, description="The call this one was transferred from.")
    cause: (
        Literal[
            "normalClearing", "busy", "cancel", "noAnswer", "congestion", "notFound", "forwarded"
        ]
        | None
    ) = None
    timestamp: str | None = Field(None, description="Optional ISO 8601 or Unix time.")


class Receipt(BaseModel):
    """Our answer once Kafka acknowledged (or had already acknowledged) the event."""

    status: Literal["accepted", "duplicate", "ignored"] = Field(
        ...,
        description="accepted: published now; duplicate: the same event was acknowledged "
        "moments ago; ignored: nothing to publish (e.g. a recording still in progress).",
    )
    event_id: str | None = Field(None, description="CloudEvents id (deterministic).")
    kind: InteractionKind | None = None
    call_id: str | None = None
    detail: str | None = None

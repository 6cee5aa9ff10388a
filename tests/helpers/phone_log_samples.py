"""Realistic provider payloads for phone_log tests (field sets as the providers send them)."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

FIXTURES = Path(__file__).parents[1] / "unit" / "phone_log" / "fixtures"

DESK = "+82212345678"  # our Seoul number
CUSTOMER = "+821012345678"
CUSTOMER_NATIONAL = "01012345678"
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
PARENT_SID = "CA11111111111111111111111111111111"


def twilio_status(
    status: str,
    *,
    call_sid: str = PARENT_SID,
    direction: str = "inbound",
    from_: str = CUSTOMER,
    to: str = DESK,
    sequence: int = 0,
    timestamp: str = "Mon, 23 Nov 2026 01:00:00 +0000",
    **extra: str,
) -> dict[str, str]:
    """A Twilio Voice status callback as Twilio posts it (every standard field)."""
    fields = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "CallSid": call_sid,
        "CallStatus": status,
        "Called": to,
        "CalledCity": "",
        "CalledCountry": "KR",
        "CalledState": "",
        "CalledZip": "",
        "Caller": from_,
        "CallerCity": "",
        "CallerCountry": "KR",
        "CallerState": "",
        "CallerZip": "",
        "Direction": direction,
        "From": from_,
        "FromCity": "",
        "FromCountry": "KR",
        "FromState": "",
        "FromZip": "",
        "To": to,
        "ToCity": "",
        "ToCountry": "KR",
        "ToState": "",
        "ToZip": "",
        "Timestamp": timestamp,
        "CallbackSource": "call-progress-events",
        "SequenceNumber": str(sequence),
    }
    fields.update(extra)
    return fields


def twilio_answered_call() -> list[dict[str, str]]:
    return [
        twilio_status("ringing", sequence=0, timestamp="Mon, 23 Nov 2026 01:00:00 +0000"),
        twilio_status("in-progress", sequence=1, timestamp="Mon, 23 Nov 2026 01:00:05 +0000"),
        twilio_status(
            "completed",
            sequence=2,
            timestamp="Mon, 23 Nov 2026 01:03:15 +0000",
            CallDuration="190",
        ),
    ]


def twilio_recording(
    *,
    call_sid: str = PARENT_SID,
    recording_sid: str = "RE22222222222222222222222222222222",
    status: str = "completed",
    source: str = "RecordVerb",
) -> dict[str, str]:
    """A recordingStatusCallback: note it carries no From/To."""
    return {
        "AccountSid": ACCOUNT_SID,
        "CallSid": call_sid,
        "RecordingSid": recording_sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}"
        f"/Recordings/{recording_sid}",
        "RecordingStatus": status,
        "RecordingDuration": "23",
        "RecordingChannels": "1",
        "RecordingStartTime": "Mon, 23 Nov 2026 01:00:20 +0000",
        "RecordingSource": source,
        "RecordingTrack": "both",
    }


def twilio_record_action(recording_sid: str = "RE22222222222222222222222222222222") -> dict:
    """The <Record action=…> request: the standard call fields plus the recording."""
    fields = twilio_status("completed", timestamp="Mon, 23 Nov 2026 01:00:45 +0000")
    fields.update(
        RecordingSid=recording_sid,
        RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}"
        f"/Recordings/{recording_sid}",
        RecordingDuration="23",
        Digits="hangup",
    )
    return fields


def asterisk_cdr(**overrides: str) -> dict[str, str]:
    """An inbound call answered by extension 1001, as CURL(…) in a hangup handler sends it."""
    cdr = {
        "clid": '"Kim Minji" <01012345678>',
        "src": "01012345678",
        "dst": "0212345678",
        "dcontext": "from-pstn",
        "channel": "PJSIP/trunk-kt-00000012",
        "dstchannel": "PJSIP/1001-00000013",
        "lastapp": "Dial",
        "lastdata": "PJSIP/1001,30,tT",
        "start": "2026-11-23 10:00:00",
        "answer": "2026-11-23 10:00:07",
        "end": "2026-11-23 10:03:12",
        "duration": "192",
        "billsec": "185",
        "disposition": "ANSWERED",
        "amaflags": "DOCUMENTATION",
        "accountcode": "",
        "uniqueid": "1795395600.18",
        "linkedid": "1795395600.18",
        "userfield": "",
    }
    cdr.update(overrides)
    return cdr


def asterisk_form(cdr: dict[str, str]) -> bytes:
    """CURL(url,post-data) with ${URIENCODE()} around each value."""
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in cdr.items()).encode()


def freeswitch_cdr(**variables: str) -> dict[str, Any]:
    """The inbound callcenter call of the fixture file, with variables overridden."""
    cdr = json.loads((FIXTURES / "freeswitch_inbound_answered.json").read_text())
    cdr = copy.deepcopy(cdr)
    for key, value in variables.items():
        if value is None:
            cdr["variables"].pop(key, None)
        else:
            cdr["variables"][key] = value
    return cdr


def freeswitch_missed(**variables: str) -> dict[str, Any]:
    """The caller hung up while it rang (no answer, no agent)."""
    base = {
        "answer_epoch": "0",
        "answer_uepoch": "0",
        "billsec": "0",
        "duration": "25",
        "end_epoch": "1795395625",
        "hangup_cause": "ORIGINATOR_CANCEL",
        "last_app": "bridge",
        "cc_queue": None,
        "cc_agent": None,
        "cc_cause": None,
        "cc_agent_bridged": None,
        "last_sent_callee_id_number": None,
    }
    base.update(variables)
    return freeswitch_cdr(**base)


def freeswitch_body(cdr: dict[str, Any], encode: str) -> tuple[bytes, str]:
    """(body, content type) as mod_json_cdr posts for ``encode`` = false | true | base64."""
    text = json.dumps(cdr, separators=(",", ":"), ensure_ascii=False)
    if encode == "false":
        return text.encode(), "application/json"
    if encode == "true":
        return b"cdr=" + quote(text, safe="").encode(), "application/x-www-form-urlencoded"
    encoded = base64.b64encode(text.encode())
    return b"cdr=" + encoded, "application/x-www-form-base64-encoded"


def decoded_values(cdr: dict[str, Any]) -> dict[str, Any]:
    """The same CDR with encode-values off (plain variable values)."""
    from urllib.parse import unquote

    plain = copy.deepcopy(cdr)
    plain["variables"] = {k: unquote(v) for k, v in plain["variables"].items()}
    return plain


def cti_event(event: str, call_id: str = "c0ffee42", **extra: str | list[str]) -> dict:
    fields: dict[str, str | list[str]] = {
        "event": event,
        "callId": call_id,
        "from": "821012345678",
        "to": "82212345678",
        "direction": "in",
        "user[]": ["Anna Support", "Ben Support"],
        "xcid": "0be6f2e0e3c34bd1a5a7b8e7b0c9d2a1",
    }
    fields.update(extra)
    return fields


def cti_form(fields: dict) -> bytes:
    return urlencode(fields, doseq=True).encode()

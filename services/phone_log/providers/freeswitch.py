"""FreeSWITCH ``mod_json_cdr``: one JSON CDR per channel, posted when it hangs up.

The module posts in one of three ``encode`` modes: ``false`` (raw JSON,
``application/json``), ``true`` (``cdr=<URL-encoded JSON>``, a form) and
``base64`` (``cdr=<base64 JSON>``, ``application/x-www-form-base64-encoded``,
the base64 *not* URL-encoded). With ``encode-values`` on (the default) every
value under ``variables`` is URL-encoded on top of that.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

from libs.common.events import Direction
from libs.common.ids import deterministic_id
from services.phone_log.calls import CallFacts, PayloadError
from services.phone_log.lifecycle import CallStatus
from services.phone_log.phone_numbers import infer_pbx_direction, parse_number
from services.phone_log.providers.fields import Fields, decode_json_object, epoch, seconds, text

PROVIDER = "freeswitch"
BASE64_CONTENT_TYPE = "application/x-www-form-base64-encoded"

#: ``hangup_cause`` of a channel nobody answered -> our status; anything else failed.
UNANSWERED_CAUSES: dict[str, CallStatus] = {
    "NO_ANSWER": CallStatus.NO_ANSWER,
    "NO_USER_RESPONSE": CallStatus.NO_ANSWER,
    "ALLOTTED_TIMEOUT": CallStatus.NO_ANSWER,
    "PROGRESS_TIMEOUT": CallStatus.NO_ANSWER,
    "USER_BUSY": CallStatus.BUSY,
    "CALL_REJECTED": CallStatus.BUSY,
    "ORIGINATOR_CANCEL": CallStatus.CANCELLED,
    "NORMAL_CLEARING": CallStatus.CANCELLED,
    "LOSE_RACE": CallStatus.CANCELLED,
}


@dataclass(frozen=True, slots=True)
class FreeswitchLine:
    integration_id: str
    decode_values: bool = True
    extension_max_digits: int = 6


def decode_body(body: bytes, content_type: str | None) -> dict[str, Any]:
    """The CDR object, whichever ``encode`` mode the module was configured with."""
    stripped = body.strip()
    if stripped.startswith(b"{"):
        return decode_json_object(stripped)
    if not stripped.startswith(b"cdr="):
        raise PayloadError("expected a JSON CDR or a cdr= form field")
    value = stripped[len(b"cdr=") :].split(b"&", 1)[0]
    if BASE64_CONTENT_TYPE in (content_type or "").lower() or _looks_base64(value):
        return decode_json_object(_from_base64(value))
    return decode_json_object(unquote_to_bytes(value.replace(b"+", b" ")))


def _looks_base64(value: bytes) -> bool:
    # A URL-encoded JSON object starts with "%7B"; base64 of "{" starts with "ey".
    return value[:2] == b"ey"


def _from_base64(value: bytes) -> bytes:
    # Some proxies URL-encode the form anyway: undo that first, it is harmless otherwise.
    raw = unquote_to_bytes(value) if b"%" in value else value
    try:
        return base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=False)
    except (binascii.Error, ValueError):
        raise PayloadError("cdr is not valid base64") from None


def cdr_variables(cdr: Fields, *, decode_values: bool) -> dict[str, str]:
    variables = cdr.get("variables")
    if not isinstance(variables, dict):
        raise PayloadError("CDR has no variables object")
    flat = {str(k): v for k, v in variables.items() if isinstance(v, str | int | float)}
    if decode_values:
        return {k: unquote(str(v)) for k, v in flat.items()}
    return {k: str(v) for k, v in flat.items()}


def caller_profile(cdr: Fields) -> Fields:
    """``callflow`` is a list in current releases and an object in old ones."""
    callflow = cdr.get("callflow")
    if isinstance(callflow, list):
        callflow = callflow[0] if callflow else None
    if not isinstance(callflow, dict):
        return {}
    profile = callflow.get("caller_profile")
    return profile if isinstance(profile, dict) else {}


def parse_cdr(cdr: Fields, line: FreeswitchLine, *, uuid_param: str | None = None) -> CallFacts:
    variables = cdr_variables(cdr, decode_values=line.decode_values)
    profile = caller_profile(cdr)
    uuid = text(variables, "uuid") or text(profile, "uuid") or uuid_param
    if not uuid:
        raise PayloadError("CDR has no uuid")
    from_raw = text(variables, "caller_id_number", "sip_from_user") or text(
        profile, "caller_id_number"
    )
    to_raw = text(variables, "destination_number", "sip_to_user") or text(
        profile, "destination_number"
    )
    name = text(variables, "caller_id_name") or text(profile, "caller_id_name")
    answered_at = epoch(variables, "answer_epoch")
    ended_at = epoch(variables, "end_epoch")
    started_at = epoch(variables, "start_epoch")
    leg = text(variables, "originating_leg_uuid") is not None
    return CallFacts(
        provider=PROVIDER,
        event_id=deterministic_id("freeswitch.cdr", line.integration_id, uuid),
        call_id=uuid,
        group_id=text(variables, "originating_leg_uuid") or uuid,
        status=_status(variables, answered=answered_at is not None),
        provider_status=text(variables, "hangup_cause"),
        direction=_direction(variables, line, from_raw, to_raw),
        direction_stated=(text(variables, "omnidesk_direction") or "").lower()
        in ("inbound", "outbound"),
        from_raw=from_raw,
        to_raw=to_raw,
        caller_name=name,
        occurred_at=ended_at or started_at,
        started_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        duration_seconds=seconds(variables, "duration"),
        billable_seconds=seconds(variables, "billsec"),
        hangup_cause=text(variables, "hangup_cause"),
        recording_url=text(variables, "omnidesk_recording_url", "recording_url"),
        recording_duration_seconds=seconds(variables, "voicemail_message_len", "record_seconds"),
        answered_by=_agent(variables) or (to_raw if leg and answered_at else None),
        queue=text(variables, "cc_queue"),
        leg=leg,
    )


def _status(variables: Fields, *, answered: bool) -> CallStatus:
    if (text(variables, "last_app") or "").lower() == "voicemail":
        return CallStatus.VOICEMAIL
    if _abandoned_in_queue(variables):
        return CallStatus.ABANDONED
    if answered:
        return CallStatus.COMPLETED
    cause = (text(variables, "hangup_cause") or "").upper()
    return UNANSWERED_CAUSES.get(cause, CallStatus.FAILED)


def _abandoned_in_queue(variables: Fields) -> bool:
    # mod_callcenter answers the caller and sets cc_cause=cancel when they hang up waiting.
    return (text(variables, "cc_cause") or "").lower() == "cancel" and not text(
        variables, "cc_agent"
    )


def _agent(variables: Fields) -> str | None:
    agent = text(variables, "cc_agent", "last_sent_callee_id_number", "callee_id_number")
    return agent.split("@", 1)[0] if agent else None


def _direction(
    variables: Fields, line: FreeswitchLine, from_raw: str | None, to_raw: str | None
) -> Direction:
    explicit = (text(variables, "omnidesk_direction") or "").lower()
    # A channel's own `direction` is the leg's, not the customer's: an agent's phone
    # calling out is an "inbound" leg to FreeSWITCH. The dialplan may say it outright.
    if explicit in ("inbound", "outbound"):
        return Direction(explicit)
    digits = line.extension_max_digits
    return infer_pbx_direction(
        parse_number(from_raw, "ZZ", extension_max_digits=digits),
        parse_number(to_raw, "ZZ", extension_max_digits=digits),
    )

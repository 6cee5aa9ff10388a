"""Asterisk CDRs pushed over HTTP by the dialplan (``CURL()`` in a hangup handler).

A CDR is written once, when a call leg ends, so each one is a terminal event:
ended, missed, or voicemail. Legs of one call (transfers, queue attempts)
share ``linkedid``, which becomes the group id. A relay of AMI ``Cdr`` events
(``UniqueID``, ``Source``, ``Disposition``, …) is read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import tzinfo

from libs.common.events import Direction
from libs.common.ids import deterministic_id
from services.phone_log.calls import CallFacts, PayloadError
from services.phone_log.lifecycle import CallStatus
from services.phone_log.phone_numbers import infer_pbx_direction, parse_number
from services.phone_log.providers.fields import Fields, pbx_time, required, seconds, text

PROVIDER = "asterisk"

#: CDR ``disposition`` -> our status (before voicemail and queue rules).
DISPOSITIONS: dict[str, CallStatus] = {
    "ANSWERED": CallStatus.COMPLETED,
    "NO ANSWER": CallStatus.NO_ANSWER,
    "NOANSWER": CallStatus.NO_ANSWER,
    "BUSY": CallStatus.BUSY,
    "FAILED": CallStatus.FAILED,
    "CONGESTION": CallStatus.FAILED,
    "CANCEL": CallStatus.CANCELLED,
}

#: AMI ``Cdr`` event header -> CDR variable, for relays that forward AMI events as JSON.
AMI_FIELDS: dict[str, str] = {
    "UniqueID": "uniqueid",
    "LinkedID": "linkedid",
    "CallerID": "clid",
    "Source": "src",
    "Destination": "dst",
    "DestinationContext": "dcontext",
    "Channel": "channel",
    "DestinationChannel": "dstchannel",
    "LastApplication": "lastapp",
    "LastData": "lastdata",
    "StartTime": "start",
    "AnswerTime": "answer",
    "EndTime": "end",
    "Duration": "duration",
    "BillableSeconds": "billsec",
    "Disposition": "disposition",
    "AccountCode": "accountcode",
    "UserField": "userfield",
}

_CHANNEL_PEER = re.compile(r"^[^/]+/([^-@;/]+)")
_CLID = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<number>[^>]*)>\s*$')


@dataclass(frozen=True, slots=True)
class AsteriskLine:
    """How one PBX is read: its clock and which contexts our agents dial out from."""

    integration_id: str
    zone: tzinfo
    outbound_contexts: frozenset[str] = field(default_factory=frozenset)
    extension_max_digits: int = 6


def parse_cdr(cdr: Fields, line: AsteriskLine) -> CallFacts:
    cdr = cdr_variables(cdr)
    uniqueid = required(cdr, "uniqueid")
    disposition = required(cdr, "disposition").upper()
    if disposition not in DISPOSITIONS:
        raise PayloadError(f"unknown disposition {disposition!r}")
    name, clid_number = _split_clid(text(cdr, "clid"))
    from_raw = text(cdr, "src") or clid_number
    to_raw = text(cdr, "did", "dst")
    started = pbx_time(cdr, "start", line.zone)
    ended = pbx_time(cdr, "end", line.zone)
    return CallFacts(
        provider=PROVIDER,
        event_id=deterministic_id("asterisk.cdr", line.integration_id, uniqueid),
        call_id=uniqueid,
        group_id=text(cdr, "linkedid") or uniqueid,
        status=_status(cdr, disposition),
        provider_status=disposition,
        direction=_direction(cdr, line, from_raw, to_raw),
        direction_stated=_stated_direction(cdr, line),
        from_raw=from_raw,
        to_raw=to_raw,
        caller_name=name,
        occurred_at=ended or started,
        started_at=started,
        answered_at=pbx_time(cdr, "answer", line.zone),
        ended_at=ended,
        duration_seconds=seconds(cdr, "duration"),
        billable_seconds=seconds(cdr, "billsec"),
        hangup_cause=text(cdr, "hangupcause", "hangup_cause"),
        recording_url=text(cdr, "recording_url", "recordingfile"),
        answered_by=channel_peer(text(cdr, "dstchannel")),
        queue=text(cdr, "queue"),
    )


def cdr_variables(fields: Fields) -> dict:
    """CDR variable names whether the sender used them or the AMI ``Cdr`` event's."""
    renamed = {AMI_FIELDS.get(key, key): value for key, value in fields.items()}
    return {**fields, **renamed}


def _status(cdr: Fields, disposition: str) -> CallStatus:
    last_app = (text(cdr, "lastapp") or "").lower()
    if last_app == "voicemail":
        return CallStatus.VOICEMAIL
    if disposition == "ANSWERED" and last_app == "queue" and not text(cdr, "dstchannel"):
        # Queue() answers the caller itself; no agent channel means they gave up waiting.
        return CallStatus.ABANDONED
    return DISPOSITIONS[disposition]


def _direction(
    cdr: Fields, line: AsteriskLine, from_raw: str | None, to_raw: str | None
) -> Direction:
    explicit = (text(cdr, "direction") or "").lower()
    if explicit in ("inbound", "in", "incoming"):
        return Direction.INBOUND
    if explicit in ("outbound", "out", "outgoing"):
        return Direction.OUTBOUND
    if text(cdr, "dcontext") in line.outbound_contexts:
        return Direction.OUTBOUND
    digits = line.extension_max_digits
    return infer_pbx_direction(
        parse_number(from_raw, "ZZ", extension_max_digits=digits),
        parse_number(to_raw, "ZZ", extension_max_digits=digits),
    )


def _stated_direction(cdr: Fields, line: AsteriskLine) -> bool:
    explicit = (text(cdr, "direction") or "").lower()
    return explicit in _STATED or text(cdr, "dcontext") in line.outbound_contexts


_STATED = frozenset({"inbound", "in", "incoming", "outbound", "out", "outgoing"})


def channel_peer(channel: str | None) -> str | None:
    """``PJSIP/1001-00000002`` -> ``1001``; ``Local/2001@from-queue-0000;1`` -> ``2001``."""
    if not channel:
        return None
    match = _CHANNEL_PEER.match(channel)
    return match.group(1) if match else channel


def _split_clid(clid: str | None) -> tuple[str | None, str | None]:
    """``"Hong Gildong" <01012345678>`` -> (``Hong Gildong``, ``01012345678``)."""
    if not clid:
        return None, None
    match = _CLID.match(clid)
    if match is None:
        return None, clid
    return (match.group("name").strip() or None), (match.group("number").strip() or None)

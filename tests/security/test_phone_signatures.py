"""phone_log, every provider route: forged, tampered, missing and replayed credentials.

The app runs with its real Kafka producer. After the rejected requests one
valid request is sent twice; the topic must then hold exactly one event.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

import pytest

from tests.helpers.kafka import header, read_topic
from tests.helpers.phone_log import ASTERISK_TOKEN, CTI_TOKEN, basic_auth, signed_twilio
from tests.helpers.phone_log_samples import (
    asterisk_cdr,
    asterisk_form,
    cti_event,
    cti_form,
    freeswitch_body,
    freeswitch_cdr,
    twilio_recording,
    twilio_status,
)
from tests.integration.phone_log.helpers import app_on_broker

pytestmark = pytest.mark.integration

FORM = "application/x-www-form-urlencoded"
STATUS = "/twilio/kr-main/voice/status"
RECORDING = "/twilio/kr-main/voice/recording"


@dataclass(frozen=True)
class Call:
    path: str
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    valid: Call
    forged: Call
    missing: Call
    tampered: Call | None = None  # routes whose signature covers the body


def _twilio(path: str, fields: dict[str, str]) -> Case:
    good = signed_twilio(path, fields)
    valid = Call(path, good["content"], good["headers"])
    bad = signed_twilio(path, fields, token="attacker-token")
    without = {k: v for k, v in good["headers"].items() if k != "X-Twilio-Signature"}
    changed = (
        {**fields, "From": "+821099999999"}
        if "From" in fields
        else {**fields, "RecordingDuration": "99"}
    )
    tampered_body = signed_twilio(path, changed)["content"]
    return Case(
        valid=valid,
        forged=Call(path, bad["content"], bad["headers"]),
        missing=Call(path, good["content"], without),
        tampered=replace(valid, content=tampered_body),
    )


def _asterisk() -> Case:
    path = "/asterisk/pbx-seoul/cdr"
    body = asterisk_form(asterisk_cdr(uniqueid="1795399999.77", linkedid="1795399999.77"))
    valid = Call(path, body, {"Content-Type": FORM, "X-Omnidesk-Token": ASTERISK_TOKEN})
    return Case(
        valid=valid,
        forged=replace(valid, headers={"Content-Type": FORM, "X-Omnidesk-Token": "guessed"}),
        missing=replace(valid, headers={"Content-Type": FORM}),
    )


def _freeswitch() -> Case:
    path = "/freeswitch/fs-seoul/cdr"
    body, content_type = freeswitch_body(freeswitch_cdr(), "false")
    valid = Call(path, body, {"Content-Type": content_type, "Authorization": basic_auth()})
    return Case(
        valid=valid,
        forged=replace(
            valid,
            headers={"Content-Type": content_type, "Authorization": basic_auth(password="guess")},
        ),
        missing=replace(valid, headers={"Content-Type": content_type}),
    )


def _cti() -> Case:
    body = cti_form(cti_event("newCall", call_id="sec-call-1"))
    valid = Call(f"/cti/cti-main/{CTI_TOKEN}", body, {"Content-Type": FORM})
    return Case(
        valid=valid,
        forged=replace(valid, path="/cti/cti-main/not-the-token"),
        missing=replace(valid, path="/cti/cti-main/"),
    )


CASES = {
    "twilio-status": lambda: _twilio(STATUS, twilio_status("completed", CallDuration="42")),
    "twilio-recording": lambda: _twilio(RECORDING, twilio_recording()),
    "asterisk": _asterisk,
    "freeswitch": _freeswitch,
    "cti": _cti,
}


async def _post(client, call: Call):  # type: ignore[no-untyped-def]
    return await client.post(call.path, content=call.content, headers=call.headers)


@pytest.mark.parametrize("route", list(CASES))
async def test_bad_credentials_are_refused_and_a_replay_adds_no_event(kafka_topics, route):
    case = CASES[route]()
    async with app_on_broker(kafka_topics) as client:
        forged = await _post(client, case.forged)
        missing = await _post(client, case.missing)
        tampered = await _post(client, case.tampered) if case.tampered else None
        first = await _post(client, case.valid)
        replayed = await _post(client, case.valid)

    assert forged.status_code == 401, forged.text
    # A missing path token means the route itself is not matched.
    assert missing.status_code == (404 if route == "cti" else 401), missing.text
    if tampered is not None:
        assert tampered.status_code == 401, tampered.text
    assert first.status_code == 200, first.text
    assert replayed.status_code == 200, replayed.text
    records = await asyncio.wait_for(
        read_topic(kafka_topics, kafka_topics.topics.interactions, 1, extra_polls=2), 60
    )
    assert len(records) == 1, [header(r, "ce_id") for r in records]

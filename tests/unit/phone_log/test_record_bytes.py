"""The Kafka records and HTTP answers of the phone providers' sample callbacks, pinned.

The SHA-256 of each sender's records (topic, key, headers, value) and answers, at a
fixed receive time, as the code before the interaction's models were built without
re-validation (7116f5e) wrote them: the bytes on the topic and on the wire stay the same.
``cti-numbers`` (numbers in the forms PBXs write) as c515511 wrote them, before
phone_numbers read digits without ``+`` and checked validity without phonenumbers.parse.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from libs.common.cloudevents import encode
from services.phone_log import routes
from tests.helpers.phone_log import (
    ASTERISK_TOKEN,
    CTI_TOKEN,
    basic_auth,
    running_app,
    signed_twilio,
)
from tests.helpers.phone_log_samples import (
    asterisk_cdr,
    asterisk_form,
    cti_event,
    cti_form,
    freeswitch_body,
    freeswitch_cdr,
    twilio_answered_call,
    twilio_recording,
    twilio_status,
)
from tests.unit.phone_log.helpers import RecordingProducer

NOW = datetime(2026, 11, 30, 9, 0, 0, 123456, tzinfo=UTC)
STATUS = "/twilio/kr-main/voice/status"
RECORDING = "/twilio/kr-main/voice/recording"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class FixedClock(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return NOW


def callbacks(sender: str) -> list[tuple[str, dict[str, Any]]]:
    if sender == "twilio":
        calls = [twilio_status("no-answer"), twilio_status("completed"), *twilio_answered_call()]
        return [(STATUS, signed_twilio(STATUS, fields)) for fields in calls] + [
            (RECORDING, signed_twilio(RECORDING, twilio_recording()))
        ]
    if sender == "asterisk":
        missed = asterisk_cdr(disposition="NO ANSWER", answer="", billsec="0", dstchannel="")
        token = {"X-Omnidesk-Token": ASTERISK_TOKEN}
        return [
            ("/asterisk/pbx-seoul/cdr", {"content": asterisk_form(cdr), "headers": token | FORM})
            for cdr in (asterisk_cdr(), missed)
        ] + [
            (
                "/asterisk/pbx-seoul/cdr",
                {
                    "content": json.dumps(missed).encode(),
                    "headers": token | {"Content-Type": "application/json"},
                },
            )
        ]
    if sender == "freeswitch":
        body, content_type = freeswitch_body(freeswitch_cdr(), "false")
        headers = {"Authorization": basic_auth(), "Content-Type": content_type}
        return [("/freeswitch/fs-seoul/cdr", {"content": body, "headers": headers})]
    if sender == "cti-numbers":
        # Numbers as PBXs write them (national, without the plus, an IDD, an extension,
        # none at all) on both sides: the paths of phone_numbers' fast paths and their
        # fallbacks.
        return [
            (
                f"/cti/cti-main/{CTI_TOKEN}",
                {
                    "content": cti_form(
                        cti_event("hangup", f"n{n}", **{"from": caller, "to": callee})
                    ),
                    "headers": FORM,
                },
            )
            for n, (caller, callee) in enumerate(CTI_NUMBERS)
        ]
    return [
        (f"/cti/cti-main/{CTI_TOKEN}", {"content": cti_form(cti_event(event)), "headers": FORM})
        for event in ("newCall", "answered", "hangup")
    ]


CTI_NUMBERS = [
    ("01012345678", "0212345678"),
    ("821055500001", "82212345678"),
    ("+821012345678", "1001"),
    ("00821012345678", "15881234"),
    ("0082212345678", "021234567"),
    ("4155550123", "+14155550123"),
    ("14155550123", "0312345678"),
    ("821012", "8201012345678"),
    ("not-a-number", "anonymous"),
    ("0612345678", "+390612345678"),
    ("1001", "01012345678"),
]


#: records published, digest (repeated ids are acknowledged, not published again)
PINNED: dict[str, str] = {
    "twilio": "5 72b0845af7cc7d0849cf654d680b46aa13d9e1cf8edc66f7bdf4c1105e248566",
    "asterisk": "1 56646a6d07522721f0b3fd292b633d114dd7dd9c8e631d5d4138d8c61e5a888b",
    "freeswitch": "1 35c91fd48cbe51fffce7d4f0643487016ac9ebdb919d943ae69ad0180ccafcf3",
    "cti": "2 27b2a7c9f24cd9bda93ad708025fa6b7149b9209e6241af8da6b15def0f784de",
    "cti-numbers": "11 3ee26b52bc8e94d7fd5903ef9e003dd32aec03148e2be9c8e3e50647927022ad",
}


async def records_and_answers(sender: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(routes, "datetime", FixedClock)
    producer = RecordingProducer()
    digest = hashlib.sha256()
    async with running_app(producer) as client:
        for path, request in callbacks(sender):
            response = await client.post(path, **request)
            digest.update(b"%d %s|" % (response.status_code, response.content))
    for topic, event, key in producer.sent:
        headers, value = encode(event)
        digest.update(f"{topic}|{key}|{headers}|".encode() + value)
    return f"{len(producer.sent)} {digest.hexdigest()}"


@pytest.mark.parametrize("sender", ["twilio", "asterisk", "freeswitch", "cti", "cti-numbers"])
async def test_records_and_answers_are_the_pinned_bytes(
    sender: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await records_and_answers(sender, monkeypatch) == PINNED[sender]

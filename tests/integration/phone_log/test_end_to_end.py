"""Every provider end to end: webhook -> app with the real EventProducer -> Kafka -> topic."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from libs.common.cloudevents import decode
from libs.common.events import Interaction, InteractionKind
from tests.helpers.kafka import header, read_topic
from tests.helpers.phone_log import ASTERISK_TOKEN, CTI_TOKEN, basic_auth, signed_twilio
from tests.helpers.phone_log_samples import (
    CUSTOMER,
    asterisk_cdr,
    asterisk_form,
    cti_event,
    freeswitch_body,
    freeswitch_cdr,
    freeswitch_missed,
    twilio_answered_call,
    twilio_recording,
    twilio_status,
)
from tests.integration.phone_log.helpers import app_on_broker

pytestmark = pytest.mark.integration

STATUS = "/twilio/kr-main/voice/status"
RECORDING = "/twilio/kr-main/voice/recording"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MISSED_SID = "CA99999999999999999999999999999999"


def _requests() -> list[tuple[str, dict]]:
    """(path, httpx keyword arguments) for a realistic mix of every provider."""
    answered = twilio_answered_call()
    out_of_order = [answered[2], answered[0], answered[1]]  # completed first
    requests = [(STATUS, signed_twilio(STATUS, cb)) for cb in out_of_order]
    requests.append(
        (STATUS, signed_twilio(STATUS, twilio_status("no-answer", call_sid=MISSED_SID)))
    )
    requests.append((RECORDING, signed_twilio(RECORDING, twilio_recording())))
    missed_cdr = asterisk_cdr(
        disposition="BUSY",
        answer="",
        billsec="0",
        dstchannel="",
        uniqueid="1795395700.30",
        linkedid="1795395700.30",
    )
    requests.append(
        (
            "/asterisk/pbx-seoul/cdr",
            {
                "content": asterisk_form(missed_cdr),
                "headers": {**FORM, "X-Omnidesk-Token": ASTERISK_TOKEN},
            },
        )
    )
    for encode, cdr in (
        ("false", freeswitch_cdr()),
        ("true", freeswitch_missed(uuid="aaaaaaaa-0000-4000-8000-000000000002")),
        (
            "base64",
            freeswitch_missed(
                uuid="aaaaaaaa-0000-4000-8000-000000000003", hangup_cause="USER_BUSY"
            ),
        ),
    ):
        body, content_type = freeswitch_body(cdr, encode)
        requests.append(
            (
                "/freeswitch/fs-seoul/cdr",
                {
                    "content": body,
                    "headers": {"Content-Type": content_type, "Authorization": basic_auth()},
                },
            )
        )
    for event in (cti_event("newCall"), cti_event("hangup", cause="noAnswer")):
        requests.append(
            (
                f"/cti/cti-main/{CTI_TOKEN}",
                {
                    "content": json.dumps(event).encode(),
                    "headers": {"Content-Type": "application/json"},
                },
            )
        )
    return requests


async def test_every_provider_reaches_the_topic_as_cloudevents(kafka_topics):
    topic = kafka_topics.topics.interactions
    requests = _requests()
    async with app_on_broker(kafka_topics) as client:
        responses = [await client.post(path, **kwargs) for path, kwargs in requests]
        # A provider retry of something already acknowledged: 200, nothing new on the topic.
        retry = await client.post(*requests[0][:1], **requests[0][1])
    assert [r.status_code for r in responses] == [200] * len(requests), [r.text for r in responses]
    assert retry.status_code == 200 and retry.json()["status"] == "duplicate"

    records = await asyncio.wait_for(read_topic(kafka_topics, topic, len(requests)), 60)
    assert len(records) == len(requests)
    acked_ids = {r.json()["event_id"] for r in responses}
    events = [decode(record.headers, record.value) for record in records]
    assert {e.id for e in events} == acked_ids
    for record, event in zip(records, events, strict=True):
        assert isinstance(event.data, Interaction)
        assert header(record, "ce_specversion") == "1.0"
        assert header(record, "content-type") == "application/json"
        assert header(record, "ce_type") == event.data.event_type()
        assert header(record, "ce_source") == (
            f"omnidesk/phone_log/{event.data.provider}/{event.data.integration}"
        )
        assert header(record, "ce_subject") == event.data.call.call_id
        assert record.key.decode() == event.data.customer_key
        assert event.data.channel == "phone"

    by_provider = Counter(e.data.provider for e in events)
    assert by_provider == {"twilio": 5, "asterisk": 1, "freeswitch": 3, "cti": 2}
    missed = [e.data for e in events if e.data.kind is InteractionKind.CALL_MISSED]
    assert len(missed) == 5
    assert all(m.call.callback_requested for m in missed)
    assert {m.customer_key for m in missed} == {CUSTOMER}
    kinds = Counter(e.data.kind for e in events)
    assert kinds[InteractionKind.VOICEMAIL] == 1
    assert kinds[InteractionKind.CALL_ENDED] == 2  # Twilio completed + FreeSWITCH answered


async def test_readyz_reports_kafka(kafka_topics):
    async with app_on_broker(kafka_topics) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"integrations": "ok", "kafka": "ok"}


async def test_unreachable_kafka_gives_503_and_not_ready(kafka_topics):
    # Nothing listens on port 1: the producer never starts; the app still serves.
    down = kafka_topics.model_copy(update={"bootstrap_servers": "127.0.0.1:1"})
    async with app_on_broker(down, retry_after_s=7) as client:
        response = await client.post(STATUS, **signed_twilio(STATUS, twilio_status("ringing")))
        ready = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"] == "bus_unavailable"
    assert ready.status_code == 503


async def test_unreadable_cdr_lands_on_the_dead_letter_topic(kafka_topics):
    from libs.common.events import DeadLetter

    body = b"cdr=%7B%22variables%22%3A%20%22not-an-object%22%7D"
    async with app_on_broker(kafka_topics) as client:
        response = await client.post(
            "/freeswitch/fs-seoul/cdr",
            content=body,
            headers={
                "Authorization": basic_auth(),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    assert response.status_code == 400
    [record] = await asyncio.wait_for(
        read_topic(kafka_topics, kafka_topics.topics.deadletter, 1), 60
    )
    assert record.value == body
    letter = DeadLetter.from_headers(record.headers)
    assert letter.stage == "phone_log.freeswitch"
    assert letter.source == "phone_log:freeswitch/fs-seoul"

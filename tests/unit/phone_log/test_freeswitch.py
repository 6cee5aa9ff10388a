from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.common.events import Direction, InteractionKind
from libs.common.ids import deterministic_id
from services.phone_log.calls import PayloadError
from services.phone_log.providers.freeswitch import FreeswitchLine, decode_body, parse_cdr
from tests.helpers.phone_log_samples import (
    CUSTOMER,
    decoded_values,
    freeswitch_body,
    freeswitch_cdr,
    freeswitch_missed,
)
from tests.unit.phone_log.helpers import interaction_of

LINE = FreeswitchLine(integration_id="fs-seoul")
PLAIN_LINE = FreeswitchLine(integration_id="fs-seoul", decode_values=False)
UUID = "f3b2a1c0-5d4e-4f6a-8b7c-9d0e1f2a3b4c"


@pytest.mark.parametrize("encode", ["false", "true", "base64"])
@pytest.mark.parametrize("values_encoded", [True, False])
def test_every_encode_mode_gives_the_same_event(encode, values_encoded):
    cdr = freeswitch_cdr() if values_encoded else decoded_values(freeswitch_cdr())
    body, content_type = freeswitch_body(cdr, encode)
    decoded = decode_body(body, content_type)
    line = LINE if values_encoded else PLAIN_LINE
    data = interaction_of(parse_cdr(decoded, line))
    assert data.kind is InteractionKind.CALL_ENDED
    assert data.customer_key == CUSTOMER
    assert data.customer.display_name == "홍길동"
    assert data.call.answered_by == "1001"
    assert data.call.queue == "support-ko@default"
    assert data.call.duration_seconds == 192 and data.call.billable_seconds == 190
    assert data.call.started_at == datetime(2026, 11, 23, 1, 0, 0, tzinfo=UTC)
    assert data.call.answered_at == datetime(2026, 11, 23, 1, 0, 2, tzinfo=UTC)
    assert data.occurred_at == datetime(2026, 11, 23, 1, 3, 12, tzinfo=UTC)
    assert data.call.hangup_cause == "NORMAL_CLEARING"


def test_auto_detects_base64_without_its_content_type():
    body, _ = freeswitch_body(freeswitch_cdr(), "base64")
    assert decode_body(body, "application/x-www-form-urlencoded")["variables"]["uuid"] == UUID


def test_event_id_is_uuid_per_integration():
    facts = parse_cdr(freeswitch_cdr(), LINE)
    assert facts.event_id == deterministic_id("freeswitch.cdr", "fs-seoul", UUID)
    assert facts.call_id == UUID and facts.group_id == UUID


@pytest.mark.parametrize(
    ("cause", "status"),
    [
        ("ORIGINATOR_CANCEL", "cancelled"),
        ("NO_ANSWER", "no_answer"),
        ("USER_BUSY", "busy"),
        ("CALL_REJECTED", "busy"),
        ("NO_USER_RESPONSE", "no_answer"),
        ("UNALLOCATED_NUMBER", "failed"),
    ],
)
def test_unanswered_inbound_is_missed(cause, status):
    data = interaction_of(parse_cdr(freeswitch_missed(hangup_cause=cause), LINE))
    assert data.kind is InteractionKind.CALL_MISSED
    assert data.call.status == status
    assert data.call.callback_requested
    assert data.call.answered_at is None and data.call.answered_by is None


def test_abandoned_in_callcenter_queue():
    cdr = freeswitch_cdr(
        cc_cause="cancel",
        cc_agent=None,
        cc_agent_bridged=None,
        cc_cancel_reason="BREAK_OUT",
        last_sent_callee_id_number=None,
    )
    data = interaction_of(parse_cdr(cdr, LINE))
    assert data.kind is InteractionKind.CALL_MISSED
    assert data.call.status == "abandoned"
    assert data.call.callback_requested


def test_voicemail():
    cdr = freeswitch_cdr(
        last_app="voicemail",
        last_arg="default%20%24%24%7Bdomain%7D%201001",
        cc_agent=None,
        cc_cause=None,
        last_sent_callee_id_number=None,
        voicemail_message_len="31",
        omnidesk_recording_url="https%3A%2F%2Ffs.example.com%2Fvm%2Fmsg.wav",
    )
    data = interaction_of(parse_cdr(cdr, LINE))
    assert data.kind is InteractionKind.VOICEMAIL
    assert data.call.recording_url == "https://fs.example.com/vm/msg.wav"
    assert data.call.recording_duration_seconds == 31
    assert data.call.callback_requested


def test_agent_calling_out_is_outbound():
    cdr = freeswitch_cdr(
        caller_id_number="1001",
        sip_from_user="1001",
        destination_number="01012345678",
        cc_agent=None,
        cc_queue=None,
        last_sent_callee_id_number=None,
    )
    data = interaction_of(parse_cdr(cdr, LINE))
    assert data.direction is Direction.OUTBOUND
    assert data.customer_key == CUSTOMER


def test_dialplan_may_state_the_direction():
    cdr = freeswitch_cdr(
        omnidesk_direction="outbound",
        destination_number="01012345678",
        caller_id_number="0212345678",
    )
    assert parse_cdr(cdr, LINE).direction is Direction.OUTBOUND


def test_b_leg_is_grouped_with_its_a_leg():
    cdr = freeswitch_cdr(uuid="b1b1b1b1-0000-4000-8000-000000000001", originating_leg_uuid=UUID)
    facts = parse_cdr(cdr, LINE)
    assert facts.group_id == UUID and facts.call_id != UUID


def test_uuid_from_query_when_the_cdr_lacks_one():
    cdr = freeswitch_cdr(uuid=None)
    cdr["callflow"][0]["caller_profile"].pop("uuid")
    assert parse_cdr(cdr, LINE, uuid_param="from-query").call_id == "from-query"


def test_old_callflow_object_shape():
    cdr = freeswitch_cdr(caller_id_number=None, sip_from_user=None)
    cdr["callflow"] = cdr["callflow"][0]
    assert parse_cdr(cdr, LINE).from_raw == "01012345678"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        b"cdr=%7Bnot-json",
        b"cdr=!!!!",
        b"[1,2]",
        b'{"variables": 3}',
        b'{"variables": {}}',
    ],
)
def test_broken_cdrs_are_refused(body):
    with pytest.raises(PayloadError):
        parse_cdr(decode_body(body, None), LINE)


def test_unanswered_b_leg_to_an_agent_is_no_callback():
    cdr = freeswitch_missed(
        uuid="b1b1b1b1-0000-4000-8000-000000000002",
        originating_leg_uuid=UUID,
        destination_number="1001",
        hangup_cause="NO_ANSWER",
    )
    data = interaction_of(parse_cdr(cdr, LINE))
    assert data.kind is InteractionKind.CALL_MISSED
    assert not data.call.callback_requested
    assert data.customer_key == CUSTOMER and data.call.group_id == UUID


def test_answered_b_leg_names_the_callee():
    cdr = freeswitch_cdr(
        uuid="b1b1b1b1-0000-4000-8000-000000000003",
        originating_leg_uuid=UUID,
        destination_number="1002",
        cc_agent=None,
        last_sent_callee_id_number=None,
    )
    assert interaction_of(parse_cdr(cdr, LINE)).call.answered_by == "1002"

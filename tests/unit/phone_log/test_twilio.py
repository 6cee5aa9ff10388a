from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from libs.common.events import Direction, InteractionKind
from libs.common.ids import deterministic_id
from services.phone_log.calls import PayloadError
from services.phone_log.lifecycle import fold
from services.phone_log.providers.twilio import parse_recording_callback, parse_status_callback
from tests.helpers.phone_log_samples import (
    CUSTOMER,
    DESK,
    PARENT_SID,
    twilio_answered_call,
    twilio_record_action,
    twilio_recording,
    twilio_status,
)
from tests.unit.phone_log.helpers import RECEIVED_AT, event_of, interaction_of

CHILD_1 = "CA22222222222222222222222222222222"
CHILD_2 = "CA33333333333333333333333333333333"


def test_answered_inbound_call_maps_to_started_answered_ended():
    events = [event_of(parse_status_callback(cb)) for cb in twilio_answered_call()]
    kinds = [e.data.kind for e in events]
    assert kinds == [
        InteractionKind.CALL_STARTED,
        InteractionKind.CALL_ANSWERED,
        InteractionKind.CALL_ENDED,
    ]
    ended = events[-1]
    assert ended.id == deterministic_id("twilio.voice", PARENT_SID, "completed")
    assert ended.type == "support.call.ended"
    assert ended.source == "omnidesk/phone_log/twilio/kr-main"
    assert ended.subject == PARENT_SID
    data = ended.data
    assert data.channel == "phone" and data.provider == "twilio" and data.integration == "kr-main"
    assert data.customer_key == CUSTOMER
    assert data.customer.phone == CUSTOMER
    assert data.occurred_at == datetime(2026, 11, 23, 1, 3, 15, tzinfo=UTC)
    assert data.received_at == RECEIVED_AT
    assert data.routing_hints.queue == "support-ko"
    assert data.thread.provider_thread_id == PARENT_SID
    call = data.call
    assert call.call_id == PARENT_SID and call.group_id == PARENT_SID
    assert call.from_number == CUSTOMER and call.to_number == DESK
    assert call.direction is Direction.INBOUND
    assert call.status == "completed" and call.provider_status == "completed"
    assert call.duration_seconds == 190 and call.ended_at == data.occurred_at
    assert not call.callback_requested


@pytest.mark.parametrize(
    ("status", "ours"),
    [("no-answer", "no_answer"), ("busy", "busy"), ("canceled", "cancelled"), ("failed", "failed")],
)
def test_missed_inbound_call_asks_for_a_callback(status, ours):
    data = interaction_of(parse_status_callback(twilio_status(status, CallDuration="0")))
    assert data.kind is InteractionKind.CALL_MISSED
    assert data.call.status == ours
    assert data.call.callback_requested
    assert data.customer_key == CUSTOMER


def test_outbound_call_customer_is_the_callee():
    facts = parse_status_callback(
        twilio_status("no-answer", direction="outbound-api", from_=DESK, to=CUSTOMER)
    )
    data = interaction_of(facts)
    assert data.direction is Direction.OUTBOUND
    assert data.customer_key == CUSTOMER
    assert data.kind is InteractionKind.CALL_MISSED
    assert not data.call.callback_requested


def test_outbound_failed_is_an_ended_attempt():
    facts = parse_status_callback(
        twilio_status("failed", direction="outbound-api", from_=DESK, to=CUSTOMER)
    )
    assert interaction_of(facts).kind is InteractionKind.CALL_ENDED


def test_out_of_order_and_repeated_callbacks_give_the_same_events():
    callbacks = twilio_answered_call()
    expected = {e.id: e.data for e in (event_of(parse_status_callback(cb)) for cb in callbacks)}
    for order in itertools.permutations(callbacks):
        events = [event_of(parse_status_callback(cb)) for cb in (*order, order[0])]
        assert {e.id: e.data for e in events} == expected
        assert fold(e.data.kind for e in events) is InteractionKind.CALL_ENDED


def test_sequence_numbers_do_not_change_the_event_id():
    first = parse_status_callback(twilio_status("ringing", sequence=0))
    retry = parse_status_callback(twilio_status("ringing", sequence=3))
    assert first.event_id == retry.event_id


def test_transferred_call_legs_share_the_parent_group():
    legs = [
        twilio_status(
            "no-answer",
            call_sid=CHILD_1,
            direction="outbound-dial",
            to="+821055501001",
            ParentCallSid=PARENT_SID,
        ),
        twilio_status(
            "completed",
            call_sid=CHILD_2,
            direction="outbound-dial",
            to="+821055501002",
            ParentCallSid=PARENT_SID,
            CallDuration="120",
        ),
        twilio_status("completed", CallDuration="150"),
    ]
    events = [interaction_of(parse_status_callback(leg)) for leg in legs]
    assert {e.call.group_id for e in events} == {PARENT_SID}
    assert {e.thread.provider_thread_id for e in events} == {PARENT_SID}
    assert [e.call.call_id for e in events] == [CHILD_1, CHILD_2, PARENT_SID]
    # A <Dial> leg to an agent that nobody picked up is not a customer callback.
    assert events[0].kind is InteractionKind.CALL_MISSED and not events[0].call.callback_requested


@pytest.mark.parametrize("caller", ["anonymous", "+266696687", "", "Restricted"])
def test_withheld_caller_is_flagged_not_crashed_on(caller):
    data = interaction_of(parse_status_callback(twilio_status("no-answer", from_=caller)))
    assert data.customer.anonymous
    assert data.customer_key == f"phone:anonymous:{PARENT_SID}"
    assert data.call.callback_requested


def test_voicemail_from_recording_status_callback():
    facts = parse_recording_callback(twilio_recording())
    assert facts is not None
    data = interaction_of(facts)
    assert data.kind is InteractionKind.VOICEMAIL
    assert data.call.recording_url.endswith("/Recordings/RE22222222222222222222222222222222")
    assert data.call.recording_duration_seconds == 23
    assert data.call.callback_requested
    # No numbers in this callback: the call id threads it and keys it.
    assert data.customer_key == f"phone:call:{PARENT_SID}"
    assert data.thread.provider_thread_id == PARENT_SID
    assert data.occurred_at == datetime(2026, 11, 23, 1, 0, 20, tzinfo=UTC)


def test_record_action_and_status_callback_are_one_event():
    action = parse_recording_callback(twilio_record_action())
    status = parse_recording_callback(twilio_recording())
    assert action is not None and status is not None
    assert action.event_id == status.event_id
    assert interaction_of(action).customer_key == CUSTOMER


def test_conversation_recording_is_not_a_voicemail():
    facts = parse_recording_callback(twilio_recording(source="DialVerb"))
    assert facts is not None
    data = interaction_of(facts)
    assert data.kind is InteractionKind.CALL_ENDED and data.call.status == "recorded"


@pytest.mark.parametrize("state", ["in-progress", "absent", "failed"])
def test_unfinished_recordings_publish_nothing(state):
    assert parse_recording_callback(twilio_recording(status=state)) is None


@pytest.mark.parametrize(
    "broken",
    [{"CallStatus": "ringing"}, {"CallSid": "CA1"}, {"CallSid": "CA1", "CallStatus": "exploded"}],
)
def test_payload_without_what_we_need_is_refused(broken):
    with pytest.raises(PayloadError):
        parse_status_callback(broken)


def test_bad_optional_fields_are_tolerated():
    facts = parse_status_callback(
        twilio_status("completed", CallDuration="-5", Timestamp="yesterday-ish")
    )
    data = interaction_of(facts)
    assert data.call.duration_seconds is None
    assert data.occurred_at == RECEIVED_AT


def test_forward_leg_to_an_agent_names_who_took_it_and_asks_no_callback():
    leg = twilio_status(
        "completed",
        call_sid=CHILD_2,
        direction="outbound-dial",
        to="+821055501002",
        ParentCallSid=PARENT_SID,
        CallDuration="61",
    )
    data = interaction_of(parse_status_callback(leg))
    assert data.customer_key == CUSTOMER  # the caller, passed through in From
    assert data.call.answered_by == "+821055501002"
    assert data.call.group_id == PARENT_SID


def test_agent_calling_out_from_a_softphone():
    parent = twilio_status("no-answer", from_="client:minji", to=CUSTOMER)
    data = interaction_of(parse_status_callback(parent))
    assert data.direction is Direction.OUTBOUND
    assert data.customer_key == CUSTOMER
    assert data.kind is InteractionKind.CALL_MISSED and not data.call.callback_requested


def test_dial_leg_from_our_number_keys_on_the_callee_when_we_know_our_numbers():
    leg = twilio_status(
        "busy",
        call_sid=CHILD_1,
        direction="outbound-dial",
        from_=DESK,
        to=CUSTOMER,
        ParentCallSid=PARENT_SID,
    )
    data = interaction_of(parse_status_callback(leg), own_numbers=frozenset({DESK}))
    assert data.customer_key == CUSTOMER
    assert not data.call.callback_requested


def test_withheld_caller_keeps_one_key_across_the_legs_of_the_call():
    parent = twilio_status("completed", from_="anonymous", CallDuration="30")
    leg = twilio_status(
        "no-answer",
        call_sid=CHILD_1,
        direction="outbound-dial",
        from_="anonymous",
        to="+821055501001",
        ParentCallSid=PARENT_SID,
    )
    keys = {interaction_of(parse_status_callback(cb)).customer_key for cb in (parent, leg)}
    assert keys == {f"phone:anonymous:{PARENT_SID}"}


@pytest.mark.parametrize(
    ("direction", "ours", "key"),
    [
        ("trunking-terminating", Direction.INBOUND, CUSTOMER),
        ("trunking-originating", Direction.OUTBOUND, CUSTOMER),
    ],
)
def test_sip_trunking_directions(direction, ours, key):
    caller, callee = (CUSTOMER, DESK) if ours is Direction.INBOUND else (DESK, CUSTOMER)
    facts = parse_status_callback(
        twilio_status("completed", direction=direction, from_=caller, to=callee)
    )
    data = interaction_of(facts)
    assert data.direction is ours and data.customer_key == key

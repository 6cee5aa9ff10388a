from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest

from libs.common.events import Direction, InteractionKind
from libs.common.ids import deterministic_id
from services.phone_log.calls import PayloadError
from services.phone_log.lifecycle import fold
from services.phone_log.providers.cti import parse_event
from tests.helpers.phone_log_samples import CUSTOMER, cti_event, cti_form
from tests.unit.phone_log.helpers import interaction_of


def parse(fields: dict):
    return parse_event(fields, integration_id="cti-main")


def as_form(fields: dict) -> dict:
    """Through the wire and back: what the route hands the parser for a form."""
    return parse_qs(cti_form(fields).decode(), keep_blank_values=True)


def test_answered_call_sequence_from_a_form():
    events = [
        cti_event("newCall"),
        cti_event("answer", user="Anna Support", answeringNumber="1001"),
        cti_event("hangup", cause="normalClearing", answeringNumber="1001"),
    ]
    data = [interaction_of(parse(as_form(e))) for e in events]
    assert [d.kind for d in data] == [
        InteractionKind.CALL_STARTED,
        InteractionKind.CALL_ANSWERED,
        InteractionKind.CALL_ENDED,
    ]
    assert {d.customer_key for d in data} == {CUSTOMER}
    assert data[1].call.answered_by == "Anna Support"
    assert data[2].call.hangup_cause == "normalClearing"
    assert not data[2].call.callback_requested


def test_event_id_is_call_id_plus_event():
    facts = parse(cti_event("hangup", cause="cancel"))
    assert facts.event_id == deterministic_id("cti", "cti-main", "c0ffee42", "hangup")


@pytest.mark.parametrize(
    ("cause", "status"), [("cancel", "cancelled"), ("noAnswer", "no_answer"), ("busy", "busy")]
)
def test_unanswered_hangup_is_missed(cause, status):
    data = interaction_of(parse(cti_event("hangup", cause=cause)))
    assert data.kind is InteractionKind.CALL_MISSED
    assert data.call.status == status
    assert data.call.callback_requested
    assert data.call.answered_by is None  # user[] lists who it rang at, not who answered


def test_hangup_that_was_answered_is_not_missed():
    data = interaction_of(parse(cti_event("hangup", cause="cancel", answeringNumber="1001")))
    assert data.kind is InteractionKind.CALL_ENDED


def test_forwarded_call_and_its_transfer_target_share_a_group():
    first = interaction_of(parse(cti_event("hangup", cause="forwarded")))
    second = interaction_of(
        parse(cti_event("newCall", call_id="c0ffee43", originalCallId="c0ffee42"))
    )
    assert first.kind is InteractionKind.CALL_ENDED and first.call.status == "forwarded"
    assert first.call.group_id == second.call.group_id == "c0ffee42"


def test_out_of_order_hangup_before_answer():
    events = [
        cti_event("hangup", cause="normalClearing", answeringNumber="1001"),
        cti_event("answer", answeringNumber="1001"),
        cti_event("newCall"),
    ]
    kinds = [interaction_of(parse(e)).kind for e in events]
    assert fold(kinds) is InteractionKind.CALL_ENDED


def test_json_body_with_user_list_and_outbound_direction():
    fields = {
        "event": "answer",
        "callId": "x1",
        "from": "0212345678",
        "to": "01012345678",
        "direction": "out",
        "user": ["Ben Support"],
        "timestamp": "2026-11-23T01:00:00Z",
    }
    data = interaction_of(parse(fields))
    assert data.direction is Direction.OUTBOUND
    assert data.customer_key == CUSTOMER
    assert data.call.answered_by == "Ben Support"
    assert data.occurred_at == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def test_anonymous_caller():
    data = interaction_of(parse(cti_event("newCall", **{"from": "anonymous"})))
    assert data.customer.anonymous and data.customer_key == "phone:anonymous:c0ffee42"


def test_epoch_millisecond_timestamp():
    facts = parse(cti_event("newCall", timestamp="1795395600000"))
    assert facts.occurred_at == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "broken", [{"callId": "1"}, {"event": "newCall"}, {"event": "dance", "callId": "1"}]
)
def test_events_without_what_we_need_are_refused(broken):
    with pytest.raises(PayloadError):
        parse(broken)


def placetel(event: str, **extra: str) -> dict:
    """Placetel-style notification: its own event names, call_id and the outcome in type."""
    return {
        "event": event,
        "call_id": "pt-7f3a",
        "from": "01012345678",
        "to": "0212345678",
        **extra,
    }


@pytest.mark.parametrize(
    ("outcome", "kind", "status"),
    [
        ("missed", InteractionKind.CALL_MISSED, "no_answer"),
        ("busy", InteractionKind.CALL_MISSED, "busy"),
        ("canceled", InteractionKind.CALL_MISSED, "cancelled"),
        ("voicemail", InteractionKind.VOICEMAIL, "voicemail"),
        ("accepted", InteractionKind.CALL_ENDED, "completed"),
    ],
)
def test_placetel_hungup_outcomes(outcome, kind, status):
    data = interaction_of(parse(placetel("HungUp", type=outcome)))
    assert data.kind is kind and data.call.status == status
    assert data.call.call_id == "pt-7f3a" and data.customer_key == CUSTOMER
    assert data.call.callback_requested is (kind is not InteractionKind.CALL_ENDED)


def test_placetel_event_names_share_our_event_ids():
    ours = parse(cti_event("newCall", call_id="pt-7f3a"))
    theirs = parse(placetel("IncomingCall"))
    assert ours.event_id == theirs.event_id
    assert interaction_of(parse(placetel("CallAccepted"))).kind is InteractionKind.CALL_ANSWERED


def test_placetel_outgoing_call_is_outbound():
    fields = placetel("OutgoingCall", **{"from": "0212345678", "to": "01012345678"})
    data = interaction_of(parse(fields))
    assert data.direction is Direction.OUTBOUND and data.customer_key == CUSTOMER


@pytest.mark.parametrize("caller", ["not-a-number", "+1"])
def test_missed_call_from_an_invalid_number_is_kept_flagged_and_not_called_back(caller):
    data = interaction_of(parse(cti_event("hangup", cause="noAnswer", **{"from": caller})))
    assert data.kind is InteractionKind.CALL_MISSED
    assert data.call.number_invalid
    assert not data.call.callback_requested
    assert data.customer.phone is None and data.customer_key == f"phone:raw:{caller}"


@pytest.mark.parametrize("caller", ["821012345678", "anonymous", "1001"])
def test_real_withheld_or_internal_numbers_are_not_flagged_invalid(caller):
    data = interaction_of(parse(cti_event("hangup", cause="noAnswer", **{"from": caller})))
    assert not data.call.number_invalid

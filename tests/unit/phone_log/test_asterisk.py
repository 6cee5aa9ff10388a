from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from libs.common.events import Direction, InteractionKind
from libs.common.ids import deterministic_id
from services.phone_log.calls import PayloadError
from services.phone_log.providers.asterisk import AsteriskLine, channel_peer, parse_cdr
from tests.helpers.phone_log_samples import CUSTOMER, asterisk_cdr
from tests.unit.phone_log.helpers import interaction_of

SEOUL = AsteriskLine(integration_id="pbx-seoul", zone=ZoneInfo("Asia/Seoul"))


def test_answered_inbound_cdr():
    facts = parse_cdr(asterisk_cdr(), SEOUL)
    assert facts.event_id == deterministic_id("asterisk.cdr", "pbx-seoul", "1795395600.18")
    data = interaction_of(facts)
    assert data.kind is InteractionKind.CALL_ENDED
    assert data.direction is Direction.INBOUND
    assert data.customer_key == CUSTOMER
    assert data.customer.display_name == "Kim Minji"
    call = data.call
    assert call.answered_by == "1001"
    assert call.duration_seconds == 192 and call.billable_seconds == 185
    # PBX local time (KST, +09:00) becomes UTC.
    assert call.started_at == datetime(2026, 11, 23, 1, 0, 0, tzinfo=UTC)
    assert call.answered_at == datetime(2026, 11, 23, 1, 0, 7, tzinfo=UTC)
    assert data.occurred_at == call.ended_at == datetime(2026, 11, 23, 1, 3, 12, tzinfo=UTC)
    assert call.provider_status == "ANSWERED" and call.status == "completed"


@pytest.mark.parametrize(
    ("disposition", "status"),
    [("NO ANSWER", "no_answer"), ("BUSY", "busy"), ("FAILED", "failed"), ("CONGESTION", "failed")],
)
def test_unanswered_inbound_cdr_is_a_missed_call(disposition, status):
    cdr = asterisk_cdr(disposition=disposition, answer="", billsec="0", dstchannel="")
    data = interaction_of(parse_cdr(cdr, SEOUL))
    assert data.kind is InteractionKind.CALL_MISSED
    assert data.call.status == status
    assert data.call.callback_requested
    assert data.call.answered_at is None


def test_caller_abandoned_in_queue():
    cdr = asterisk_cdr(
        lastapp="Queue",
        lastdata="support-ko,t,,,300",
        dstchannel="",
        billsec="95",
        queue="support-ko",
    )
    data = interaction_of(parse_cdr(cdr, SEOUL))
    assert data.kind is InteractionKind.CALL_MISSED
    assert data.call.status == "abandoned"
    assert data.call.callback_requested
    assert data.call.queue == "support-ko"


def test_queue_call_taken_by_an_agent_is_ended():
    cdr = asterisk_cdr(lastapp="Queue", dstchannel="Local/1002@from-queue-00000004;1")
    data = interaction_of(parse_cdr(cdr, SEOUL))
    assert data.kind is InteractionKind.CALL_ENDED
    assert data.call.answered_by == "1002"


def test_voicemail_cdr():
    cdr = asterisk_cdr(
        lastapp="VoiceMail",
        lastdata="1001@default,u",
        dstchannel="",
        recording_url="https://pbx.example.com/vm/1795395600.18.wav",
    )
    data = interaction_of(parse_cdr(cdr, SEOUL))
    assert data.kind is InteractionKind.VOICEMAIL
    assert data.call.recording_url.endswith(".wav")
    assert data.call.callback_requested


def test_transferred_call_legs_are_grouped_by_linkedid():
    first = asterisk_cdr(
        uniqueid="1795395600.18",
        linkedid="1795395600.18",
        dstchannel="PJSIP/1001-00000013",
        end="2026-11-23 10:01:00",
    )
    second = asterisk_cdr(
        uniqueid="1795395660.21",
        linkedid="1795395600.18",
        dstchannel="PJSIP/1002-00000016",
        start="2026-11-23 10:01:00",
    )
    legs = [interaction_of(parse_cdr(cdr, SEOUL)) for cdr in (first, second)]
    assert [leg.call.answered_by for leg in legs] == ["1001", "1002"]
    assert {leg.call.group_id for leg in legs} == {"1795395600.18"}
    assert {leg.customer_key for leg in legs} == {CUSTOMER}
    assert len({parse_cdr(cdr, SEOUL).event_id for cdr in (first, second)}) == 2


def test_outbound_call_from_an_extension():
    cdr = asterisk_cdr(
        clid='"Agent Lee" <1001>',
        src="1001",
        dst="01012345678",
        dcontext="from-internal",
        channel="PJSIP/1001-0000001a",
        dstchannel="PJSIP/trunk-kt-0000001b",
    )
    data = interaction_of(parse_cdr(cdr, SEOUL))
    assert data.direction is Direction.OUTBOUND
    assert data.customer_key == CUSTOMER
    assert data.customer.display_name is None  # the agent's name is not the customer's


def test_outbound_context_setting_and_explicit_direction():
    line = AsteriskLine(
        integration_id="p",
        zone=ZoneInfo("UTC"),
        outbound_contexts=frozenset({"outbound-allroutes"}),
    )
    cdr = asterisk_cdr(src="0212345678", dst="01012345678", dcontext="outbound-allroutes")
    assert parse_cdr(cdr, line).direction is Direction.OUTBOUND
    assert parse_cdr({**cdr, "direction": "inbound"}, line).direction is Direction.INBOUND


def test_anonymous_caller():
    cdr = asterisk_cdr(clid='"Anonymous" <anonymous>', src="anonymous", disposition="NO ANSWER")
    data = interaction_of(parse_cdr(cdr, SEOUL))
    assert data.customer.anonymous
    assert data.customer_key == "phone:anonymous:1795395600.18"


def test_iso_and_epoch_timestamps():
    cdr = asterisk_cdr(start="2026-11-23T01:00:00+00:00", end="1795395792")
    facts = parse_cdr(cdr, SEOUL)
    assert facts.started_at == datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    assert facts.ended_at == datetime(2026, 11, 23, 1, 3, 12, tzinfo=UTC)


def test_channel_peer():
    assert channel_peer("PJSIP/1001-00000002") == "1001"
    assert channel_peer("SIP/2002-0000abcd") == "2002"
    assert channel_peer("Local/2001@from-queue-0000;1") == "2001"
    assert channel_peer("") is None


@pytest.mark.parametrize(
    "broken",
    [
        {"disposition": "ANSWERED"},
        {"uniqueid": "1.1"},
        {"uniqueid": "1.1", "disposition": "EXPLODED"},
    ],
)
def test_cdr_without_what_we_need_is_refused(broken):
    with pytest.raises(PayloadError):
        parse_cdr(broken, SEOUL)


def test_call_from_our_own_did_is_outbound_to_the_customer():
    cdr = asterisk_cdr(
        clid='"Support" <0212345678>',
        src="0212345678",
        dst="01012345678",
        dcontext="from-trunk-out",
        disposition="NO ANSWER",
        answer="",
        dstchannel="",
    )
    data = interaction_of(parse_cdr(cdr, SEOUL), own_numbers=frozenset({"+82212345678"}))
    assert data.direction is Direction.OUTBOUND
    assert data.customer_key == CUSTOMER
    assert not data.call.callback_requested


def test_stated_direction_wins_over_our_numbers():
    cdr = asterisk_cdr(src="0212345678", dst="01012345678", direction="inbound")
    data = interaction_of(parse_cdr(cdr, SEOUL), own_numbers=frozenset({"+82212345678"}))
    assert data.direction is Direction.INBOUND
    assert data.customer_key == CUSTOMER  # still never our own number


def test_relayed_ami_cdr_event():
    ami = {
        "Event": "Cdr",
        "AccountCode": "",
        "Source": "01012345678",
        "Destination": "200",
        "DestinationContext": "from-pstn",
        "CallerID": '"Kim Minji" <01012345678>',
        "Channel": "PJSIP/trunk-kt-00000012",
        "DestinationChannel": "",
        "LastApplication": "Queue",
        "LastData": "support-ko",
        "StartTime": "2026-11-23 10:00:00",
        "AnswerTime": "2026-11-23 10:00:01",
        "EndTime": "2026-11-23 10:02:00",
        "Duration": "120",
        "BillableSeconds": "119",
        "Disposition": "ANSWERED",
        "AMAFlags": "DOCUMENTATION",
        "UniqueID": "1795395600.44",
        "UserField": "",
    }
    data = interaction_of(parse_cdr(ami, SEOUL))
    assert data.kind is InteractionKind.CALL_MISSED and data.call.status == "abandoned"
    assert data.customer_key == CUSTOMER and data.customer.display_name == "Kim Minji"
    assert data.call.call_id == "1795395600.44"

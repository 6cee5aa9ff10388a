"""decode's short path for records in encode's own shape (``_decode_usual``) against the
general path (``_decode_any``): the same event or the same error for any record, its
headers a list (encode's) or a tuple (aiokafka's ConsumerRecord), with or without the
subject the router's relay writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from libs.common.cloudevents import (
    CloudEvent,
    _decode_any,
    _decode_usual,
    cloud_event,
    decode,
    encode,
)
from libs.common.events import (
    AgentRef,
    Channel,
    ConversationAssigned,
    ConversationOpened,
    ConversationSnapshot,
    CustomerIdentity,
    ReplyPath,
)
from tests.unit.common.test_events import make_interaction

TIME = datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC)


def _events() -> list[CloudEvent]:
    interaction = make_interaction()
    conversation = ConversationSnapshot(
        conversation_id="conv-C-1",
        reference="C-1",
        channel=Channel.CHAT,
        status="open",
        queue="payments",
        contact_id="contact-1",
        customer=CustomerIdentity(display_name="visitor 1", locale="ko"),
        first_response_due_at=TIME,
        reply_path=ReplyPath(provider="webchat", integration="web", address="v-1"),
    )
    agent = AgentRef(agent_id="a-1", name="이서연", email="seoyeon@desk.example")
    opened = ConversationOpened(conversation=conversation, occurred_at=TIME, reason="new")
    assigned = ConversationAssigned(conversation=conversation, occurred_at=TIME, agent=agent)
    return [
        cloud_event("id-0", "ingest", interaction.event_type(), interaction, TIME, None, {}),
        cloud_event("id-1", "router", opened.ce_type, opened, TIME, None, {}),
        cloud_event("id-2", "router", assigned.ce_type, assigned, TIME, None, {}),
        # as the relay writes them: ce_subject, the conversation id, after the six
        cloud_event("id-3", "router", opened.ce_type, opened, TIME, "conv-C-1", {}),
        cloud_event("id-4", "router", assigned.ce_type, assigned, TIME, "conv-C-1", {}),
        cloud_event("id-5", "router", opened.ce_type, opened, TIME, "", {}),
    ]


EVENTS = _events()


def _outcome(decoder, headers, value) -> tuple[str, object]:
    """What a decode path gives: the event with its data's type, dump and fields set, or
    the error's type and message."""
    try:
        event = decoder(headers, value)
    except Exception as exc:
        return ("error", (type(exc), str(exc)))
    return ("event", _seen(event))


def _seen(event: CloudEvent) -> tuple:
    return (
        event,
        type(event.data),
        event.data.model_dump(),
        event.data.model_fields_set,
        event.time.tzinfo,
        event.time.isoformat(),
    )


def test_every_usual_record_takes_the_short_path_to_the_same_event():
    for event in EVENTS:
        encoded, value = encode(event)
        assert len(encoded) == (6 if event.subject is None else 7)
        for headers in (encoded, tuple(encoded)):  # encode's list, the consumer's tuple
            usual = _decode_usual(headers, value)
            assert usual is not None
            assert (
                _seen(usual) == _seen(_decode_any(headers, value)) == _seen(decode(headers, value))
            )
            assert usual == event


def test_the_relays_records_as_the_consumer_hands_them_take_the_short_path():
    """The relay's headers (services.router.relay.RecordHeaders) in aiokafka's tuple."""
    from services.router.relay import RecordHeaders
    from services.router.store.outbox import PendingEvent

    event = EVENTS[4]
    row = PendingEvent(1, event.id, event.type, "conv-C-1", TIME, event.data.model_dump_json())
    [(_key, value, headers)] = RecordHeaders("router").records([row])
    usual = _decode_usual(tuple(headers), value)
    assert usual is not None and usual == event


_HEADER_VALUES = st.one_of(
    st.sampled_from(
        [
            b"",
            None,
            b"\xff\xfe",
            b"1.0",
            b"0.3",
            b"id-9",
            b"support.unheard.of",
            b"2026-11-23T09:00:00+09:00",
            b"not a time",
            b"support.conversation.opened",
        ]
    ),
    st.binary(max_size=8),
)
_NAMES = st.sampled_from(
    [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "content-type",
        "ce_subject",
        "ce_x",
        "traceparent",
    ]
)


@st.composite
def records(draw) -> tuple[list, bytes | None]:
    headers, value = encode(draw(st.sampled_from(EVENTS)))
    headers = list(headers)
    for _ in range(draw(st.integers(0, 2))):  # change a header's value or name
        at = draw(st.integers(0, len(headers) - 1))
        name, raw = headers[at]
        if draw(st.booleans()):
            headers[at] = (name, draw(_HEADER_VALUES))
        else:
            headers[at] = (draw(_NAMES), raw)
    if draw(st.booleans()):
        headers = draw(st.permutations(headers))
    if draw(st.booleans()):
        headers = tuple(headers)  # as aiokafka's ConsumerRecord holds them
    body = json.loads(value)
    match draw(
        st.sampled_from(
            ["same", "major", "minor", "bad-version", "invalid", "empty", "none", "not-json"]
        )
    ):
        case "same":
            pass
        case "major":
            body["schema_version"] = "2.0"
        case "minor":
            body["schema_version"] = "1.7"
        case "bad-version":
            body["schema_version"] = "one"
        case "invalid":
            body.pop(draw(st.sampled_from(sorted(body))))
        case "empty":
            return headers, b""
        case "none":
            return headers, None
        case "not-json":
            return headers, value[:-1]
    return headers, json.dumps(body).encode()


@given(records())
def test_any_record_decodes_as_the_general_path_decodes_it(record):
    headers, value = record
    with patch("libs.common.cloudevents.utc_now", return_value=TIME):  # a record without time
        assert _outcome(decode, headers, value) == _outcome(_decode_any, headers, value)


def test_a_bad_subject_gets_the_general_paths_answer():
    headers, value = encode(EVENTS[3])
    for raw in (None, b"\xff\xfe", b""):
        bad = (*headers[:6], ("ce_subject", raw))
        assert _outcome(decode, bad, value) == _outcome(_decode_any, bad, value)


@given(
    st.datetimes(
        timezones=st.one_of(st.just(UTC), st.none(), st.timezones()),
        allow_imaginary=True,
    )
)
def test_iso_time_is_isoformat(time):
    from libs.common.cloudevents import iso_time

    assert iso_time(time) == time.isoformat()
    assert iso_time(time.replace(microsecond=0)) == time.replace(microsecond=0).isoformat()

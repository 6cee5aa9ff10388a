from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime

import pytest

from libs.common.cloudevents import CloudEvent, CloudEventError, decode, encode
from libs.common.events.registry import EVENT_TYPES
from tests.unit.common.test_events import make_interaction

TIME = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _event() -> CloudEvent:
    body = make_interaction()
    return CloudEvent(
        id="id-1",
        source="omnidesk/test",
        type=body.event_type(),
        data=body,
        time=TIME,
        subject="kim@example.com",
        extensions={"partitionkey": "kim@example.com"},
    )


def test_binary_mode_headers_and_json_body():
    headers, value = encode(_event())
    names = dict(headers)
    assert names["ce_specversion"] == b"1.0"
    assert names["ce_id"] == b"id-1"
    assert names["ce_type"] == b"support.message.received"
    assert names["ce_time"] == TIME.isoformat().encode()
    assert names["content-type"] == b"application/json"
    assert json.loads(value)["customer"]["email"] == "kim@example.com"


def test_round_trip_keeps_everything():
    event = _event()
    assert decode(*encode(event)) == event


@pytest.mark.parametrize("missing", ["ce_id", "ce_type", "ce_source", "ce_specversion"])
def test_missing_required_header_is_an_error(missing):
    headers, value = encode(_event())
    with pytest.raises(CloudEventError, match=missing):
        decode([h for h in headers if h[0] != missing], value)


def test_unknown_type_and_bad_body_are_errors():
    headers, value = encode(_event())
    other = [(k, b"support.unheard.of" if k == "ce_type" else v) for k, v in headers]
    with pytest.raises(CloudEventError, match="no model"):
        decode(other, value)
    with pytest.raises(CloudEventError, match="invalid"):
        decode(headers, b'{"channel": "fax"}')
    with pytest.raises(CloudEventError, match="empty body"):
        decode(headers, b"")


def test_unknown_major_schema_version_is_rejected_minor_is_accepted():
    headers, value = encode(_event())
    body = json.loads(value)
    body["schema_version"] = "2.0"
    with pytest.raises(CloudEventError, match="major 1"):
        decode(headers, json.dumps(body).encode())
    body["schema_version"] = "1.7"
    assert decode(headers, json.dumps(body).encode()).data.schema_version == "1.7"


def test_a_header_that_is_not_utf8_is_named():
    headers, value = encode(_event())
    bad = [(k, b"\xff\xfe" if k == "ce_source" else v) for k, v in headers]
    with pytest.raises(CloudEventError, match="header ce_source is not UTF-8"):
        decode(bad, value)
    # headers that are not CloudEvents attributes are not read
    assert decode([*headers, ("x-binary", b"\xff")], value) == _event()


def test_other_specversion_and_unparseable_schema_version_are_errors():
    headers, value = encode(_event())
    other = [(k, b"0.3" if k == "ce_specversion" else v) for k, v in headers]
    with pytest.raises(CloudEventError, match=r"unsupported CloudEvents specversion '0\.3'"):
        decode(other, value)
    body = json.loads(value)
    body["schema_version"] = "one"
    with pytest.raises(CloudEventError, match=r"schema_version 'one' is not major\.minor"):
        decode(headers, json.dumps(body).encode())


def test_without_time_and_extensions_decode_fills_now_and_no_extensions():
    event = _event()
    headers, value = encode(event)
    bare = [(k, v) for k, v in headers if k not in ("ce_time", "ce_partitionkey")]
    decoded = decode(bare, value)
    assert decoded.extensions == {}
    assert decoded.time.tzinfo is not None and decoded.time > TIME
    assert decoded.subject == event.subject


def test_every_registered_type_has_a_model_with_that_type_or_is_an_interaction():
    for ce_type, model in EVENT_TYPES.items():
        assert model.ce_type == ce_type or model.__name__ == "Interaction"


def test_the_body_is_the_models_own_json_for_routing_events_and_an_interaction():
    from services.notifier.samples import sample_events

    events = [_event().data, *sample_events().values()]
    for data in events:
        _, value = encode(CloudEvent(id="x", source="s", type=data.ce_type, data=data))
        assert value == data.model_dump_json().encode()
    assert len({type(e) for e in events}) >= 8


def test_an_email_is_stripped_and_lower_cased_when_read_from_the_wire():
    headers, value = encode(_event())
    raw = json.loads(value)
    raw["customer"]["email"] = "  Kim@Example.COM\t"
    raw["customer_key"] = ""
    data = decode(headers, json.dumps(raw).encode()).data
    assert data.customer.email == "kim@example.com"
    assert data.customer_key == "kim@example.com"


def test_a_decoded_event_is_the_dataclass_built_by_its_init_and_frozen():
    """decode builds the event on a twin of its layout (``cloud_event``), not __init__."""
    import dataclasses

    from libs.common.cloudevents import cloud_event

    original = _event()
    decoded = decode(*encode(original))
    rebuilt = CloudEvent(
        id=decoded.id,
        source=decoded.source,
        type=decoded.type,
        data=decoded.data,
        time=decoded.time,
        subject=decoded.subject,
        extensions=decoded.extensions,
    )
    assert type(decoded) is CloudEvent
    assert decoded == rebuilt == original
    assert repr(decoded) == repr(rebuilt)
    values = [getattr(original, f.name) for f in dataclasses.fields(CloudEvent)]
    assert cloud_event(*values) == original
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.id = "other"  # type: ignore[misc]
    assert copy.copy(decoded) == decoded
    assert dataclasses.replace(decoded, id="other") == dataclasses.replace(original, id="other")
    assert hash(dataclasses.replace(decoded, extensions=None, data=None)) == hash(
        dataclasses.replace(original, extensions=None, data=None)
    )


def test_a_minor_version_met_the_first_time_takes_the_general_path_then_the_usual_one():
    from libs.common.cloudevents import _decode_usual

    headers, value = encode(_event())
    body = json.loads(value)
    body["schema_version"] = "1.42"
    value = json.dumps(body).encode()
    headers = headers[:6]  # encode's six: the usual path's shape
    assert _decode_usual(headers, value) is None  # not met before: the general path reads it
    decoded = decode(headers, value)
    assert decoded.data.schema_version == "1.42"
    assert _decode_usual(headers, value) == decoded


def test_headers_other_than_cloudevents_are_ignored_and_extensions_kept():
    headers, value = encode(_event())
    headers = [("traceparent", b"00-abc"), *headers, ("ce_custom", b"yes")]
    decoded = decode(headers, value)
    assert decoded.extensions == {"partitionkey": "kim@example.com", "custom": "yes"}
    assert decoded.id == "id-1" and decoded.subject == "kim@example.com"


@pytest.mark.parametrize(
    "extensions",
    [
        {},
        {"about_a_reply": "no"},
        {"partitionkey": "kim@example.com", "custom": "é"},
        {"b": "2", "a": "1"},
    ],
)
def test_extensions_follow_the_core_headers_sorted_by_name(extensions):
    """One extension is appended without the sort: the same headers as for any number."""
    event = dataclasses.replace(_event(), extensions=extensions)
    headers, _ = encode(event)
    expected_tail = [(f"ce_{k}", v.encode()) for k, v in sorted(extensions.items())]
    assert headers[7:] == expected_tail
    assert [name for name, _ in headers[:7]] == [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "content-type",
        "ce_subject",
    ]

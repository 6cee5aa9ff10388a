"""The routing events every routed interaction emits are built without validation
(``_FastEvent``, services/router/service/events.py) when each value is of exactly a
type its field declares: they must be the instance validation gives (same values,
same fields set, same JSON), and anything else must go the validated way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from libs.common.events.interaction import Channel, CustomerIdentity
from libs.common.events.routing import (
    AgentRef,
    ConversationAssigned,
    ConversationOpened,
    ConversationQueued,
    ConversationSnapshot,
    InteractionRouted,
    ResponsePromise,
    RoutingEvent,
)
from services.router.service.events import _FAST_EVENTS, response_promise_of
from services.router.store.models import OutboxRow
from services.router.store.outbox import OutboxWriter
from tests.unit.router.factories import PROMISE, T0, routed_samples

KST = timezone(timedelta(hours=9))
SNAPSHOT = ConversationSnapshot(
    conversation_id="conv-1",
    reference="C-7",
    channel=Channel.CHAT,
    status="open",
    queue="general",
    contact_id="contact-1",
    customer=CustomerIdentity(phone="+821012345678"),
)
BASE: dict[str, Any] = {
    "conversation": SNAPSHOT,
    "occurred_at": T0,
    "cause_event_id": "event-1",
    "reason": "new conversation in general",
}
AGENT = AgentRef(agent_id="agent-lee", name="Lee", email="lee@example.com", locale="ko")

ROUTED = routed_samples(AGENT, PROMISE)


@pytest.mark.parametrize(("model", "fields"), ROUTED)
def test_a_fast_event_is_the_validated_one(model: type[RoutingEvent], fields: dict) -> None:
    values = {**fields, **BASE}
    fast = _FAST_EVENTS[model].build(dict(values))
    validated = model(**values)
    assert fast is not None and type(fast) is model
    assert fast == validated
    assert fast.model_fields_set == validated.model_fields_set
    assert fast.model_dump_json() == validated.model_dump_json()
    assert fast.__dict__ == validated.__dict__
    assert list(fast.__dict__) == list(validated.__dict__)  # field order too


@pytest.mark.parametrize(
    "odd",
    [
        {"occurred_at": T0.astimezone(KST)},  # not UTC: validation converts it
        {"occurred_at": datetime(2026, 3, 2, 1)},  # naive: validation refuses it
        {"reason": Channel.CHAT},  # an enum member for a str field
        {"queue": 7},  # another type: validation decides (here: refuses)
        {"unknown_field": "x"},  # ignored by validation (extra="ignore")
    ],
)
def test_anything_else_is_left_to_validation(odd: dict) -> None:
    assert _FAST_EVENTS[ConversationQueued].build({**BASE, "queue": "general", **odd}) is None


def test_a_required_field_missing_is_left_to_validation() -> None:
    assert _FAST_EVENTS[ConversationAssigned].build(dict(BASE)) is None


def test_times_stay_in_utc() -> None:
    event = _FAST_EVENTS[ConversationOpened].build(
        {**BASE, "first_response_due_at": (T0 + timedelta(minutes=5)).astimezone(UTC)}
    )
    assert event is not None and event.first_response_due_at.tzinfo is UTC  # type: ignore[attr-defined]


def test_a_promise_is_the_validated_one() -> None:
    values = dict(PROMISE.__dict__)
    fast = response_promise_of(**values)
    assert fast == ResponsePromise(**values)
    assert fast.model_fields_set == ResponsePromise(**values).model_fields_set
    assert fast.model_dump_json() == PROMISE.model_dump_json()
    assert list(fast.__dict__) == list(PROMISE.__dict__)
    given = {k: v for k, v in values.items() if k != "always_open"}  # a default filled in
    assert response_promise_of(**given).__dict__ == ResponsePromise(**given).__dict__
    assert response_promise_of(**given).model_fields_set == set(given)
    in_kst = response_promise_of(**{**values, "due_at": PROMISE.due_at.astimezone(KST)})
    assert in_kst.due_at.tzinfo is UTC  # validated: converted as the field does


def test_the_same_event_whatever_the_order_the_values_come_in() -> None:
    fields = {"queue": "general", "position": 3}
    validated = ConversationQueued(**BASE, **fields)
    for values in (
        {**BASE, **fields},
        {**fields, **BASE},
        dict(reversed({**BASE, **fields}.items())),
    ):
        for _ in range(2):  # planned, then from the plan
            fast = _FAST_EVENTS[ConversationQueued].build(dict(values))
            assert fast is not None and fast.__dict__ == validated.__dict__
            assert list(fast.__dict__) == list(validated.__dict__)
            assert fast.model_fields_set == validated.model_fields_set
            assert fast.model_dump_json() == validated.model_dump_json()


def _emitted(model: type[RoutingEvent], values: dict[str, Any]) -> RoutingEvent | None:
    shared = {"conversation", "occurred_at", "cause_event_id", "reason"}
    fields = {k: v for k, v in values.items() if k not in shared}
    return _FAST_EVENTS[model].build_emitted(  # type: ignore[return-value]
        values["conversation"],
        values["occurred_at"],
        values["cause_event_id"],
        values["reason"],
        fields,
    )


@pytest.mark.parametrize(("model", "fields"), ROUTED)
def test_an_emitted_event_is_the_built_and_the_validated_one(
    model: type[RoutingEvent], fields: dict
) -> None:
    # the Emitter's way: the shared values apart, checked once per cause
    values = {**BASE, **fields}
    for _ in range(2):  # planned, then from the plan
        _assert_emitted_is_validated(model, _emitted(model, values), model(**values))


def _assert_emitted_is_validated(
    model: type[RoutingEvent], emitted: RoutingEvent | None, validated: RoutingEvent
) -> None:
    assert emitted is not None and type(emitted) is model
    assert emitted.__dict__ == validated.__dict__
    assert list(emitted.__dict__) == list(validated.__dict__)
    assert emitted.model_fields_set == validated.model_fields_set
    assert emitted.model_dump_json() == validated.model_dump_json()


@pytest.mark.parametrize(
    ("reason", "odd"),
    [
        (Channel.CHAT, {}),  # an enum member for a str field
        ("r", {"queue": 7}),  # another type: validation decides
        ("r", {"queue": "general", "unknown_field": "x"}),  # ignored by validation
        ("r", {"queue": "general", "occurred_at": T0}),  # a shared value given again
    ],
)
def test_an_odd_emitted_value_is_left_to_validation(reason: Any, odd: dict) -> None:
    fields = {"queue": "general", **odd}
    assert (
        _FAST_EVENTS[ConversationQueued].build_emitted(SNAPSHOT, T0, "event-1", reason, fields)
        is None
    )


_TEXT = st.text(max_size=12)
_MAYBE_TEXT = st.none() | _TEXT
_UTC_TIMES = st.datetimes(timezones=st.just(UTC))
#: per routed event type: its required fields, then the optional ones (each given or not)
_EMITTED_FIELDS: list[tuple[type[RoutingEvent], dict, dict]] = [
    (
        InteractionRouted,
        {"interaction_id": _TEXT},
        {"opened_conversation": st.booleans(), "ignored_reason": _MAYBE_TEXT},
    ),
    (
        ConversationOpened,
        {},
        {
            "first_response_target_minutes": st.none() | st.integers(),
            "first_response_due_at": st.none() | _UTC_TIMES,
            "business_hours_note": _MAYBE_TEXT,
            "promise": st.none() | st.just(PROMISE),
        },
    ),
    (ConversationQueued, {"queue": _TEXT}, {"position": st.none() | st.integers()}),
    (
        ConversationAssigned,
        {"agent": st.just(AGENT)},
        {"previous_agent": st.none() | st.just(AGENT), "sticky": st.booleans()},
    ),
]


@pytest.mark.parametrize(("model", "required", "optional"), _EMITTED_FIELDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_emitted_events_over_generated_values_are_the_validated_ones(
    model: type[RoutingEvent], required: dict, optional: dict, data: st.DataObject
) -> None:
    fields = data.draw(st.fixed_dictionaries(required, optional=optional))
    reason = data.draw(_MAYBE_TEXT)
    cause = data.draw(_TEXT)
    at = data.draw(_UTC_TIMES)
    emitted = _FAST_EVENTS[model].build_emitted(SNAPSHOT, at, cause, reason, dict(fields))
    validated = model(
        conversation=SNAPSHOT, occurred_at=at, cause_event_id=cause, reason=reason, **fields
    )
    _assert_emitted_is_validated(model, emitted, validated)
    values = _FAST_EVENTS[model].emitted_values(SNAPSHOT, at, cause, reason, dict(fields))
    assert values is not None
    assert _row_of_values(model, values, cause) == _row_of_event(validated, cause)


class _Rows:
    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def insert_later(self, model: type, values: dict[str, object]) -> None:
        assert model is OutboxRow
        self.rows.append(values)


def _row_of_values(model: type[RoutingEvent], values: dict, cause: str) -> dict[str, object]:
    rows = _Rows()
    OutboxWriter(rows).add_values(model, values, cause=cause)
    [row] = rows.rows
    return row


def _row_of_event(event: RoutingEvent, cause: str) -> dict[str, object]:
    rows = _Rows()
    OutboxWriter(rows).add(event, cause=cause)
    [row] = rows.rows
    return row


@pytest.mark.parametrize(("model", "fields"), ROUTED)
def test_emitted_values_write_the_validated_events_row(
    model: type[RoutingEvent], fields: dict
) -> None:
    # the Emitter's way: the values, no instance, written as the outbox row (id, type,
    # conversation, time and payload bytes) the validated event is written as
    validated = model(**BASE, **fields)
    for _ in range(2):  # planned, then from the plan; the snapshot's JSON cached then
        values = _FAST_EVENTS[model].emitted_values(
            SNAPSHOT, T0, "event-1", BASE["reason"], dict(fields)
        )
        assert values is not None
        assert values == validated.__dict__ and list(values) == list(validated.__dict__)
        row = _row_of_values(model, values, "event-1")
        assert row == _row_of_event(validated, "event-1")
        assert row["payload"] == validated.model_dump_json()


def test_values_of_a_snapshot_subclass_are_written_as_its_instance() -> None:
    class Wider(ConversationSnapshot):
        extra: str = "x"

    wider = Wider(**SNAPSHOT.__dict__)
    validated = ConversationQueued(**{**BASE, "conversation": wider}, queue="general")
    row = _row_of_values(ConversationQueued, dict(validated.__dict__), "event-1")
    assert row == _row_of_event(validated, "event-1")
    assert row["payload"] == validated.model_dump_json()


class _Text(str):
    pass


_PROMISE_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.just(UTC) | st.timezones(),
)
_PROMISE_TEXT = _TEXT | _TEXT.map(_Text) | st.integers() | st.none()


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.fixed_dictionaries(
        {},
        optional={
            "target_minutes": st.integers() | st.booleans() | st.floats(-1e6, 1e6) | st.none(),
            "due_at": _PROMISE_TIMES | st.none(),
            "open_now": st.booleans() | st.integers(0, 1) | st.none(),
            "calendar": _PROMISE_TEXT,
            "timezone": _PROMISE_TEXT,
            "always_open": st.booleans() | st.integers(0, 1),
            "unknown": st.integers(),
        },
    )
)
def test_a_promise_of_any_values_is_the_validated_one(values: dict[str, Any]) -> None:
    # every field given or not, of its type or of others: the same instance (values and
    # their order, fields set, JSON) or the same validation error
    _assert_promise_is_the_validated_one(values)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.fixed_dictionaries(
        {
            "target_minutes": st.integers(),
            "due_at": _UTC_TIMES,
            "open_now": st.booleans(),
            "calendar": _TEXT,
            "timezone": _TEXT,
        },
        optional={"always_open": st.booleans()},
    )
)
def test_a_promise_of_its_fields_types_is_the_validated_one(values: dict[str, Any]) -> None:
    # the usual promise, its last field given or left to its default: not validated
    _assert_promise_is_the_validated_one(values)


def _assert_promise_is_the_validated_one(values: dict[str, Any]) -> None:
    try:
        validated = ResponsePromise(**values)
    except ValidationError:
        with pytest.raises(ValidationError):
            response_promise_of(**values)
        return
    fast = response_promise_of(**values)
    assert list(fast.__dict__.items()) == list(validated.__dict__.items())
    assert [type(each) for each in fast.__dict__.values()] == [
        type(each) for each in validated.__dict__.values()
    ]
    assert fast.model_fields_set == validated.model_fields_set
    assert fast.model_dump_json() == validated.model_dump_json()

"""The outbox payload is ``event.model_dump_json()`` byte for byte, though the writer
serialises a snapshot once for the events that share it (``OutboxWriter._payload``):
checked for every routing event type, every field set, and for snapshots reused,
replaced and subclassed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import to_json

from libs.common.constructed import constructed
from libs.common.events.interaction import CustomerIdentity, Flags, ReplyPath
from libs.common.events.routing import (
    ROUTING_EVENT_TYPES,
    AgentRef,
    AgentReplyRequested,
    CallbackRequested,
    ConversationAssigned,
    ConversationEscalated,
    ConversationOpened,
    ConversationQueued,
    ConversationReopened,
    ConversationResolved,
    ConversationSnapshot,
    ConversationTransferred,
    InteractionRouted,
    ReplyFailed,
    ResponsePromise,
    RoutingEvent,
    SlaBreached,
    SlaWarning,
)
from libs.common.ids import (
    ORDINALS,
    ordinal_id,
    ordinal_id_stem,
    time_ordered_id,
    time_ordered_id_beside,
)
from services.router.store.event_json import json_time, json_time_text
from services.router.store.models import OutboxRow
from services.router.store.outbox import OutboxWriter, _after_time_writer, _rest_serializer

KST = timezone(timedelta(hours=9))
T0 = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
ALICE = AgentRef(agent_id="a-1", name='앨리스 "A"', email="alice@example.com", locale="ko")
BOB = AgentRef(agent_id="a-2", name="Bob\n", email=None, locale=None)


class _Rows:
    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def insert_later(self, model: type, values: dict[str, object]) -> None:
        assert model is OutboxRow
        self.rows.append(values)


def snapshot(**changes: Any) -> ConversationSnapshot:
    values: dict[str, Any] = {
        "conversation_id": "conv-1",
        "reference": "C-7",
        "channel": "chat",
        "status": "open",
        "queue": "vip",
        "priority": "high",
        "language": "ko",
        "subject": "출금 \u2028 지연 </script>",
        "tags": ["vip", "withdrawal"],
        "contact_id": "contact-1",
        "customer": CustomerIdentity(phone="+821012345678", display_name="김"),
        "customer_flags": Flags(auto_reply=True),
        "assignee": ALICE,
        "supervisor": BOB,
        "last_message_id": "m-30",
        "references": ["m-1", "m-2"],
        "first_response_due_at": (T0 + timedelta(minutes=30)).astimezone(KST),
        "reply_path": ReplyPath(provider="whatsapp", integration="wa", address="821012345678"),
        "customer_last_inbound_at": T0,
    }
    return ConversationSnapshot(**{**values, **changes})


#: every field of every routing event type given a value (none left to its default)
FIELDS: dict[type[RoutingEvent], dict[str, Any]] = {
    InteractionRouted: {
        "interaction_id": "i-1",
        "opened_conversation": True,
        "ignored_reason": "duplicate",
    },
    ConversationOpened: {
        "first_response_target_minutes": 30,
        "first_response_due_at": T0,
        "business_hours_note": "email-30-minutes: Mon-Fri 09:00-18:00",
        "promise": ResponsePromise(
            target_minutes=30,
            due_at=T0.astimezone(KST),
            open_now=True,
            calendar="kr",
            timezone="Asia/Seoul",
        ),
    },
    ConversationQueued: {"queue": "vip", "position": 3},
    ConversationAssigned: {"agent": ALICE, "previous_agent": BOB, "sticky": True},
    ConversationTransferred: {
        "from_agent": ALICE,
        "to_agent": BOB,
        "from_queue": "vip",
        "to_queue": "general",
        "by": "a-9",
    },
    ConversationEscalated: {
        "step": 1,
        "metric": "first_response",
        "from_queue": "vip",
        "to_queue": "general",
        "from_priority": "normal",
        "to_priority": "urgent",
        "supervisor": BOB,
    },
    ConversationResolved: {"resolved_by": "a-1", "csat_token": "tok"},
    ConversationReopened: {},
    SlaWarning: {"metric": "resolution", "due_at": T0, "target_minutes": 60},
    SlaBreached: {"metric": "next_response", "due_at": T0, "target_minutes": 60},
    CallbackRequested: {"phone": "+8210", "missed_at": T0},
    AgentReplyRequested: {
        "reply_id": "r-1",
        "agent": ALICE,
        "text": '안녕하세요 \\ "quoted"',
        "in_reply_to": "m-30",
        "references": ["m-1"],
        "purpose": "agent_reply",
    },
    ReplyFailed: {
        "reply_id": "r-1",
        "agent": ALICE,
        "text": "hi",
        "error_code": "131047",
        "error_detail": "window closed",
        "failed_at": T0,
    },
}


def event(event_type: type[RoutingEvent], conversation: ConversationSnapshot) -> RoutingEvent:
    return event_type(
        conversation=conversation,
        occurred_at=T0.astimezone(KST),
        cause_event_id="cause-1",
        reason="because",
        **FIELDS[event_type],
    )


def payloads(events: list[RoutingEvent]) -> list[str]:
    rows = _Rows()
    writer = OutboxWriter(rows)
    for each in events:
        writer.add(each, cause="cause-1")
    return [str(row["payload"]) for row in rows.rows]


def test_every_routing_event_type_is_covered_with_every_field_set() -> None:
    assert set(FIELDS) == set(ROUTING_EVENT_TYPES)
    for event_type, fields in FIELDS.items():
        own = set(event_type.model_fields) - set(RoutingEvent.model_fields)
        assert set(fields) == own, event_type.__name__
        # the writer puts these two in front: they must be the first fields dumped
        assert list(event_type.model_fields)[:2] == ["schema_version", "conversation"]


@pytest.mark.parametrize("event_type", ROUTING_EVENT_TYPES, ids=lambda t: t.__name__)
def test_payload_is_the_events_own_json(event_type: type[RoutingEvent]) -> None:
    shared = snapshot()
    events = [event(event_type, shared), event(event_type, shared)]
    assert payloads(events) == [each.model_dump_json() for each in events]


def test_one_snapshot_shared_by_several_event_types_then_a_changed_one() -> None:
    first = snapshot()
    changed = snapshot(status="pending", assignee=None, tags=[])
    events = [event(event_type, first) for event_type in ROUTING_EVENT_TYPES]
    events += [event(ConversationAssigned, changed), event(ConversationQueued, first)]
    assert payloads(events) == [each.model_dump_json() for each in events]


def test_defaults_and_a_snapshot_subclass_dump_as_the_event_does() -> None:
    class Wider(ConversationSnapshot):
        extra_field: str = "only on the subclass"

    wider = Wider(**snapshot().model_dump())
    minimal = ConversationSnapshot(
        conversation_id="c", reference="C-1", channel="email", status="open", queue="q",
        contact_id="x", customer=CustomerIdentity(),
    )  # fmt: skip
    events: list[RoutingEvent] = [
        ConversationReopened(conversation=minimal, occurred_at=T0),
        ConversationReopened(conversation=wider, occurred_at=T0),
        ConversationQueued(conversation=minimal, occurred_at=T0, queue="q", schema_version="1.7"),
    ]
    assert payloads(events) == [each.model_dump_json() for each in events]


def test_rows_carry_the_events_id_type_conversation_and_time() -> None:
    # add reads the fields from the instance's __dict__ and ce_type from its class
    rows = _Rows()
    writer = OutboxWriter(rows)
    shared = snapshot()
    events = [event(event_type, shared) for event_type in ROUTING_EVENT_TYPES]
    ids = [writer.add(each, cause="cause-1") for each in events]
    assert [row["event_id"] for row in rows.rows] == ids == writer.added
    stem = ordinal_id_stem(shared.conversation_id, "router.outbox", "cause-1")
    assert ids == [ordinal_id(stem, ordinal) for ordinal in range(len(events))]
    assert [(row["ce_type"], row["conversation_id"], row["occurred_at"]) for row in rows.rows] == [
        (each.ce_type, each.conversation.conversation_id, each.occurred_at) for each in events
    ]


def test_a_causes_ids_follow_its_conversation_and_go_on_past_the_ordinals() -> None:
    # ids.ordinal_id up to ORDINALS events of a cause, then the whole name hashed per
    # event; a stem per conversation the cause's events are about; the same ids again
    # when the same work is redone (a new writer: after a rollback)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    first = snapshot(conversation_id=time_ordered_id("router.conversation", at, "a"))
    other = snapshot(conversation_id=time_ordered_id("router.conversation", at, "b"))
    shared = [first] * 3 + [other] * 2 + [first] * (ORDINALS - 4)
    events = [event(ConversationReopened, each) for each in shared]

    def ids() -> list[str]:
        writer = OutboxWriter(_Rows())
        return [writer.add(each, cause="cause-1") for each in events]

    expected = [
        ordinal_id(ordinal_id_stem(each.conversation_id, "router.outbox", "cause-1"), n)
        for n, each in enumerate(shared[:ORDINALS])
    ] + [time_ordered_id_beside(first.conversation_id, "router.outbox", "cause-1", ORDINALS)]
    assert ids() == expected == ids()
    assert len(set(expected)) == len(expected)
    assert [each[:13] for each in expected] == [each.conversation_id[:13] for each in shared]


def test_every_routing_event_type_dumps_its_rest_through_a_typed_dict_serializer() -> None:
    # the faster path is the one taken (None: the exclude path, the same bytes)
    for event_type in ROUTING_EVENT_TYPES:
        assert _rest_serializer(event_type) is not None, event_type.__name__


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    reason=st.none() | st.text(),
    cause=st.none() | st.text(),
    queue=st.text(),
    position=st.none() | st.integers(),
    ignored=st.none() | st.text(),
    opened=st.booleans(),
    at=st.datetimes(timezones=st.timezones()),
)
def test_payload_of_any_values_is_the_events_own_json(
    reason, cause, queue, position, ignored, opened, at
) -> None:
    shared = snapshot()
    events: list[RoutingEvent] = [
        InteractionRouted(
            conversation=shared,
            occurred_at=at,
            cause_event_id=cause,
            reason=reason,
            interaction_id=queue,
            opened_conversation=opened,
            ignored_reason=ignored,
        ),
        ConversationQueued(
            conversation=shared, occurred_at=at, reason=reason, queue=queue, position=position
        ),
    ]
    assert payloads(events) == [each.model_dump_json() for each in events]


@pytest.mark.parametrize("event_type", ROUTING_EVENT_TYPES, ids=lambda t: t.__name__)
def test_an_event_in_utc_then_the_same_instant_in_another_zone(
    event_type: type[RoutingEvent],
) -> None:
    # occurred_at in UTC is written from event_json.json_time; the same instant in
    # another zone is an equal key there, but pydantic-core writes its own offset
    shared = snapshot()
    in_utc = event_type(
        conversation=shared, occurred_at=T0, cause_event_id="c", **FIELDS[event_type]
    )
    in_kst = event(event_type, shared)
    events = [in_utc, in_kst, in_utc]
    assert payloads(events) == [each.model_dump_json() for each in events]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    at=st.datetimes(timezones=st.just(UTC)) | st.datetimes(timezones=st.timezones()),
    reason=st.none() | st.text(),
    position=st.none() | st.integers(),
)
def test_payload_of_any_time_is_the_events_own_json(at, reason, position) -> None:
    shared = snapshot()
    events: list[RoutingEvent] = [
        ConversationReopened(conversation=shared, occurred_at=at, reason=reason),
        ConversationQueued(conversation=shared, occurred_at=at, queue="q", position=position),
        SlaBreached(
            conversation=shared, occurred_at=at, metric="resolution", due_at=at, target_minutes=5
        ),
    ]
    assert payloads(events) == [each.model_dump_json() for each in events]


@given(at=st.datetimes(timezones=st.just(UTC)))
def test_json_time_is_pydantic_cores_text_of_a_utc_datetime(at: datetime) -> None:
    assert json_time[at] == to_json(at)


@given(at=st.datetimes(timezones=st.just(UTC)))
def test_json_time_text_is_pydantic_cores_text_of_a_utc_datetime(at: datetime) -> None:
    # written by its own memo's __missing__ (a fresh memo: the process's may hold it)
    assert type(json_time_text)()[at] == to_json(at).decode() == json_time_text[at]


def test_the_routed_interactions_events_are_written_by_a_fields_writer() -> None:
    # the faster path is the one taken for the events of every routed interaction
    for event_type in (
        InteractionRouted,
        ConversationOpened,
        ConversationQueued,
        ConversationAssigned,
    ):
        assert _after_time_writer(event_type) is not None, event_type.__name__


agents = st.builds(
    AgentRef,
    agent_id=st.text(),
    name=st.none() | st.text(),
    email=st.none() | st.text(),
    locale=st.none() | st.text(),
)
utc_times = st.datetimes(timezones=st.just(UTC))


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    at=utc_times,
    due=st.none() | utc_times,
    minutes=st.none() | st.integers(),
    note=st.none() | st.text(),
    promise=st.none()
    | st.builds(
        ResponsePromise,
        target_minutes=st.integers(),
        due_at=utc_times,
        open_now=st.booleans(),
        calendar=st.text(),
        timezone=st.text(),
        always_open=st.booleans(),
    ),
    agent=agents,
    previous=st.none() | agents,
    sticky=st.booleans(),
)
def test_opened_and_assigned_of_any_values_are_the_events_own_json(
    at, due, minutes, note, promise, agent, previous, sticky
) -> None:
    # nested models, optional datetimes and integers: what fields_writer writes itself
    shared = snapshot()
    events: list[RoutingEvent] = [
        ConversationOpened(
            conversation=shared,
            occurred_at=at,
            cause_event_id="c",
            first_response_target_minutes=minutes,
            first_response_due_at=due,
            business_hours_note=note,
            promise=promise,
        ),
        ConversationAssigned(
            conversation=shared, occurred_at=at, agent=agent, previous_agent=previous, sticky=sticky
        ),
    ]
    assert payloads(events) == [each.model_dump_json() for each in events]


class _Reason(str):
    pass


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic's: a value not of its field's type
@pytest.mark.parametrize(
    ("event_type", "changes"),
    [
        (InteractionRouted, {"reason": _Reason("a subclass of str")}),
        (InteractionRouted, {"opened_conversation": 1}),
        (ConversationQueued, {"position": True}),
        (ConversationOpened, {"first_response_due_at": T0.astimezone(KST)}),
        (ConversationAssigned, {"agent": ALICE.model_copy(update={"name": 5})}),
    ],
)
def test_values_of_other_types_than_the_writers_are_dumped_by_pydantic(
    event_type: type[RoutingEvent], changes: dict[str, Any]
) -> None:
    # add_values takes the values as they are: a value of another type than the one the
    # writer checks for is written by pydantic-core (the writer answers None); a
    # subclass of str is text to both
    rows = _Rows()
    writer = OutboxWriter(rows)
    values = {**vars(event(event_type, snapshot())), "occurred_at": T0, **changes}
    writer.add_values(event_type, values, cause="cause-1")
    fields = {name: values[name] for name in event_type.model_fields}
    if event_type is not InteractionRouted or "reason" not in changes:  # text: written
        assert _after_time_writer(event_type)(fields) is None
    instance = constructed(event_type, fields)
    assert rows.rows[0]["payload"] == instance.model_dump_json(warnings=False)


class _Status(str):
    pass


texts = st.none() | st.text()
#: within years any zone's offset keeps in range (validation puts them in UTC)
_SPAN = {"min_value": datetime(2000, 1, 1), "max_value": datetime(2100, 1, 1)}
times = (
    st.none()
    | st.datetimes(timezones=st.just(UTC), **_SPAN)
    | st.datetimes(timezones=st.timezones(), **_SPAN)
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    channel=st.sampled_from(["email", "chat", "phone"]),
    status=st.text() | st.text().map(_Status),
    priority=st.sampled_from(["low", "normal", "high", "urgent"]),
    language=texts,
    subject=texts,
    tags=st.lists(st.text(), max_size=3),
    customer=st.builds(CustomerIdentity, email=texts, phone=texts, display_name=texts),
    flags=st.builds(Flags, bulk=st.booleans(), spam_verdict=texts),
    assignee=st.none() | agents,
    references=st.lists(st.text(), max_size=3),
    due=times,
    reply_path=st.none()
    | st.builds(
        ReplyPath,
        provider=st.text(),
        integration=st.text(),
        address=st.text(),
        reply_token=texts,
        reply_token_expires_at=times,
    ),
    inbound=times,
)
def test_a_snapshot_of_any_values_is_written_as_pydantic_writes_it(
    channel, status, priority, language, subject, tags, customer, flags, assignee,
    references, due, reply_path, inbound,
) -> None:  # fmt: skip
    # built as the router builds it (constructed: the values as given, a status that is a
    # subclass of str, datetimes in other zones than UTC left to pydantic)
    values = vars(
        snapshot(
            channel=channel, priority=priority, language=language, subject=subject, tags=tags,
            customer=customer, customer_flags=flags, assignee=assignee, references=references,
            reply_path=reply_path,
        )
    )  # fmt: skip
    shared = constructed(
        ConversationSnapshot,
        {
            **values,
            "status": status,
            "first_response_due_at": due,
            "customer_last_inbound_at": inbound,
        },
    )
    events = [event(InteractionRouted, shared), event(ConversationQueued, shared)]
    assert payloads(events) == [each.model_dump_json() for each in events]

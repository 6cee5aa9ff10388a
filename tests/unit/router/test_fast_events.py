"""The routing events every routed interaction emits are built without validation
(``_FastEvent``, services/router/service/events.py) when each value is of exactly a
type its field declares: they must be the instance validation gives (same values,
same fields set, same JSON), and anything else must go the validated way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

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
from tests.unit.router.factories import T0

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
PROMISE = ResponsePromise(
    target_minutes=30,
    due_at=T0 + timedelta(minutes=30),
    open_now=True,
    calendar="kst-business",
    timezone="Asia/Seoul",
)

ROUTED = [
    (InteractionRouted, {"interaction_id": "event-1", "opened_conversation": True}),
    (
        InteractionRouted,
        {"interaction_id": "event-1", "opened_conversation": False, "ignored_reason": "dup"},
    ),
    (
        ConversationOpened,
        {
            "first_response_target_minutes": 30,
            "first_response_due_at": T0 + timedelta(minutes=30),
            "business_hours_note": "email: Mon-Fri 09:00-18:00 Asia/Seoul",
            "promise": PROMISE,
        },
    ),
    (ConversationOpened, {"first_response_target_minutes": None, "promise": None}),
    (ConversationQueued, {"queue": "general"}),
    (ConversationQueued, {"queue": "general", "position": 3}),
    (ConversationAssigned, {"agent": AGENT, "previous_agent": None, "sticky": False}),
    (ConversationAssigned, {"agent": AGENT, "previous_agent": AGENT, "sticky": True}),
]


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

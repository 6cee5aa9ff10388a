"""``Emitter.emit``'s payload written from the call's values (``event_json.emitted_writer``
through ``OutboxWriter.add_written``) is the row the values' way wrote: the event's
``emitted_values`` added by ``OutboxWriter.add_values``, or the validated instance added
(its bytes ``model_dump_json``'s), or the same validation error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from libs.common.events.interaction import Channel, CustomerIdentity, Flags, ReplyPath
from libs.common.events.routing import (
    AgentRef,
    AgentReplyRequested,
    ConversationAssigned,
    ConversationOpened,
    ConversationQueued,
    ConversationReopened,
    ConversationSnapshot,
    InteractionRouted,
    ResponsePromise,
    RoutingEvent,
)
from libs.common.ids import ORDINALS
from services.router.service import events
from services.router.service.events import _FAST_EVENTS, Emitter
from services.router.store.event_json import emitted_writer
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
    subject='출금 \u2028 "지연" </script>',
    contact_id="contact-1",
    customer=CustomerIdentity(phone="+821012345678", display_name="김"),
    customer_flags=Flags(auto_reply=True),
    reply_path=ReplyPath(provider="whatsapp", integration="wa", address="8210"),
    customer_last_inbound_at=T0,
)
AGENT = AgentRef(agent_id="agent-lee", name='Lee "\n', email="lee@example.com", locale="ko")


class _Rows:
    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        self.outbox = OutboxWriter(self)

    def insert_later(self, model: type, values: dict[str, object]) -> None:
        assert model is OutboxRow
        self.rows.append(values)


class _Emitter(Emitter):
    """An emitter whose conversation is its snapshot (no store)."""

    async def snapshot(self, conversation: Any) -> Any:
        return conversation

    def _ready_snapshot(self, conversation: Any) -> Any:
        return conversation

    def _ready_written(self, conversation: Any) -> Any:
        return None  # the snapshot's way (test_written_snapshot: the written one's rows)


def _emitted(
    model: type[RoutingEvent],
    calls: list[tuple[ConversationSnapshot, str | None, dict[str, Any]]],
    *,
    cause: str = "event-1",
    now: datetime = T0,
) -> list[dict[str, object]] | type[Exception]:
    """The rows ``Emitter.emit`` adds for ``calls`` (one cause), or its error's type."""
    rows = _Rows()
    emitter = _Emitter(rows, None, cause=cause, now=now)  # type: ignore[arg-type]
    try:
        for conversation, reason, fields in calls:
            step = emitter.emit(model, conversation, reason=reason, **fields)
            with pytest.raises(StopIteration):
                step.send(None)
    except ValidationError:
        return ValidationError
    return rows.rows


def _values_way(
    model: type[RoutingEvent],
    calls: list[tuple[ConversationSnapshot, str | None, dict[str, Any]]],
    *,
    cause: str = "event-1",
    now: datetime = T0,
) -> list[dict[str, object]] | type[Exception]:
    """The rows of ``emit`` before ``emitted_writer`` (stop 34): the values' dict added,
    or the validated event."""
    rows = _Rows()
    try:
        for conversation, reason, fields in calls:
            fast_base = type(now) is datetime and now.tzinfo is UTC and type(cause) is str
            fast = _FAST_EVENTS[model] if fast_base else None
            data = fast and fast.emitted_values(conversation, now, cause, reason, fields)
            if data is not None:
                rows.outbox.add_values(model, data, cause=cause)
            else:
                validated = model(
                    conversation=conversation,
                    occurred_at=now,
                    cause_event_id=cause,
                    reason=reason,
                    **fields,
                )
                rows.outbox.add(validated, cause=cause)
    except ValidationError:
        return ValidationError
    return rows.rows


ROUTED = routed_samples(AGENT, PROMISE)


@pytest.mark.parametrize(("model", "fields"), ROUTED)
def test_a_routed_event_is_written_from_its_values_as_the_validated_one(
    model: type[RoutingEvent], fields: dict[str, Any]
) -> None:
    # twice with one snapshot (its JSON cached), then a changed one
    changed = SNAPSHOT.model_copy(update={"status": "pending"})
    calls = [(SNAPSHOT, "why", fields), (SNAPSHOT, None, fields), (changed, "why", fields)]
    rows = _emitted(model, calls)
    assert rows == _values_way(model, calls)
    assert isinstance(rows, list)
    for row, (conversation, reason, _) in zip(rows, calls, strict=True):
        validated = model(
            conversation=conversation,
            occurred_at=T0,
            cause_event_id="event-1",
            reason=reason,
            **fields,
        )
        assert row["payload"] == validated.model_dump_json()
    assert events._WRITERS[(model, tuple(fields))] is not None  # the written way taken


def _several(
    model: type[RoutingEvent], fields: dict[str, Any], snapshots: list[ConversationSnapshot]
) -> list[dict[str, object]]:
    """The rows of ``snapshots``' events, each cause of its own unit of work's writer
    (``_emitted``) and all of them through one writer (``add_written``'s id and snapshot
    caches across conversations and causes)."""
    rows = _Rows()
    for index, snapshot in enumerate(snapshots):
        emitter = _Emitter(rows, None, cause=f"event-{index % 3}", now=T0)  # type: ignore[arg-type]
        step = emitter.emit(model, snapshot, reason=None, **fields)
        with pytest.raises(StopIteration):
            step.send(None)
    return rows.rows


def _several_values_way(
    model: type[RoutingEvent], fields: dict[str, Any], snapshots: list[ConversationSnapshot]
) -> list[dict[str, object]]:
    rows = _Rows()
    for index, snapshot in enumerate(snapshots):
        data = _FAST_EVENTS[model].emitted_values(snapshot, T0, f"event-{index % 3}", None, fields)
        assert data is not None
        rows.outbox.add_values(model, data, cause=f"event-{index % 3}")
    return rows.rows


def test_written_rows_over_several_conversations_and_causes_are_the_values_ways() -> None:
    # add_written's ids (a cause's stem per conversation, its ordinals, the whole name
    # hashed past ORDINALS events) and its cached snapshot JSON: those of _add (add_json
    # with its payload given whole) and _snapshot_text (the values' way)
    model, fields = ROUTED[0]
    # time-ordered ids (ids.ordinal_id_stem puts the event's id beside them)
    first = SNAPSHOT.model_copy(update={"conversation_id": "01a2333c-877f-806c-9676-e600968d9715"})
    other = SNAPSHOT.model_copy(
        update={"conversation_id": "01a2333c-8c11-8553-9a39-609ed282f341", "status": "pending"}
    )
    snapshots = [first, first, other, SNAPSHOT, first, other, other, first] * 3
    snapshots += [first] * (3 * ORDINALS + 6)  # each cause past its ORDINALS events
    rows = _several(model, fields, snapshots)
    assert rows == _several_values_way(model, fields, snapshots)
    assert len({row["event_id"] for row in rows}) == len(rows)


class _Text(str):
    pass


_TEXT = st.text(max_size=12)
#: text, and values of other types than a text field takes as it is
_ODD_TEXT = _TEXT | _TEXT.map(_Text) | st.integers() | st.booleans()
_MAYBE_TEXT = st.none() | _TEXT | _ODD_TEXT
_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.just(UTC) | st.timezones(),
)
_NUMBERS = st.integers() | st.booleans() | st.floats(allow_nan=False, max_value=1e9, min_value=-1e9)
_AGENTS = st.just(AGENT) | st.builds(
    AgentRef.model_construct, agent_id=_ODD_TEXT, name=_MAYBE_TEXT, email=st.none()
)
_PROMISES = st.just(PROMISE) | st.builds(
    ResponsePromise.model_construct,
    target_minutes=_NUMBERS,
    due_at=_TIMES,
    open_now=st.booleans() | st.integers(0, 1),
    calendar=_ODD_TEXT,
    timezone=_TEXT,
)
#: per routed event type: its required fields, then the optional ones (each given or not)
_FIELDS: list[tuple[type[RoutingEvent], dict, dict]] = [
    (
        InteractionRouted,
        {"interaction_id": _ODD_TEXT},
        {"opened_conversation": st.booleans() | st.integers(0, 1), "ignored_reason": _MAYBE_TEXT},
    ),
    (
        ConversationOpened,
        {},
        {
            "first_response_target_minutes": st.none() | _NUMBERS,
            "first_response_due_at": st.none() | _TIMES,
            "business_hours_note": _MAYBE_TEXT,
            "promise": st.none() | _PROMISES,
        },
    ),
    (ConversationQueued, {"queue": _ODD_TEXT}, {"position": st.none() | _NUMBERS}),
    (
        ConversationAssigned,
        {"agent": _AGENTS},
        {"previous_agent": st.none() | _AGENTS, "sticky": st.booleans() | st.integers(0, 1)},
    ),
]


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic's: a value not of its field's type
@pytest.mark.parametrize(("model", "required", "optional"), _FIELDS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_emit_over_generated_values_writes_what_the_values_way_wrote(
    model: type[RoutingEvent], required: dict, optional: dict, data: st.DataObject
) -> None:
    # values of the fields' types and of others (a subclass of str, an int for a bool, a
    # bool for an int, a datetime in another zone, nested models of odd values): the
    # written way takes only what it writes as pydantic does, the rest goes the old way
    fields = data.draw(st.fixed_dictionaries(required, optional=optional))
    reason = data.draw(_MAYBE_TEXT)
    cause = data.draw(_TEXT)
    now = data.draw(_TIMES)
    calls = [(SNAPSHOT, reason, fields)]
    assert _emitted(model, calls, cause=cause, now=now) == _values_way(
        model, calls, cause=cause, now=now
    )


def test_an_emitter_of_another_zones_time_writes_nothing_itself() -> None:
    fields = {"queue": "general"}
    at = T0.astimezone(KST)
    calls = [(SNAPSHOT, "why", fields)]
    assert _emitted(ConversationQueued, calls, now=at) == _values_way(
        ConversationQueued, calls, now=at
    )
    assert _Emitter(_Rows(), None, cause="c", now=at)._shared_json is None  # type: ignore[arg-type]


def test_a_snapshot_subclass_is_left_to_the_values_way() -> None:
    class Wider(ConversationSnapshot):
        extra: str = "x"

    wider = Wider(**SNAPSHOT.__dict__)
    calls = [(wider, "why", {"queue": "general"})]
    rows = _emitted(ConversationQueued, calls)
    assert rows == _values_way(ConversationQueued, calls)
    validated = ConversationQueued(
        conversation=wider, occurred_at=T0, cause_event_id="event-1", reason="why", queue="general"
    )
    assert isinstance(rows, list) and rows[0]["payload"] == validated.model_dump_json()


def test_other_events_and_names_are_not_written_by_the_emitter() -> None:
    # not a fast event; a name a fast event takes only by validation; a repeated shared one
    assert events._writer((ConversationReopened, ())) is None
    assert events._writer((ConversationQueued, ("queue", "extra"))) is None
    assert events._writer((ConversationQueued, ("queue", "occurred_at"))) is None
    calls = [(SNAPSHOT, "why", {})]
    assert _emitted(ConversationReopened, calls) == _validated_way(ConversationReopened, calls)


def _validated_way(
    model: type[RoutingEvent], calls: list[tuple[ConversationSnapshot, str | None, dict]]
) -> list[dict[str, object]]:
    rows = _Rows()
    for conversation, reason, fields in calls:
        validated = model(
            conversation=conversation,
            occurred_at=T0,
            cause_event_id="event-1",
            reason=reason,
            **fields,
        )
        rows.outbox.add(validated, cause="event-1")
    return rows.rows


def test_emitted_writer_refuses_what_it_cannot_write() -> None:
    # a default factory left (references), a required field missing (agent, text), a name
    # not after the first passed one, or one given twice
    assert emitted_writer(AgentReplyRequested, ("reason",), ("reply_id", "agent", "text")) is None
    assert emitted_writer(ConversationAssigned, ("reason",), ()) is None
    assert emitted_writer(ConversationQueued, ("reason",), ("queue", "cause_event_id")) is None
    assert emitted_writer(ConversationQueued, ("reason",), ("queue", "reason")) is None
    assert emitted_writer(ConversationQueued, ("nothing",), ("queue",)) is None
    write = emitted_writer(ConversationQueued, ("reason",), ("queue",))
    assert write is not None
    assert write("{", None, {"queue": "vip"}) == '{,"reason":null,"queue":"vip","position":null}'
    assert write("", "x", {"queue": _Text("vip")}) is None  # exactly str only

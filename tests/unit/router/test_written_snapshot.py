"""``Emitter.emit``'s routed events whose snapshot is written from the conversation's
values (``Emitter._ready_written``, ``event_json.members_writer``, no
``ConversationSnapshot`` put together) add the rows the snapshot's way added (the
snapshot built by ``_snapshot_of`` and written by ``OutboxWriter._snapshot_text``):
the same payload bytes, event ids and order, or the same error."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from libs.common.events.interaction import CustomerIdentity, Flags
from libs.common.events.routing import (
    AgentRef,
    ConversationReopened,
    ConversationSnapshot,
    RoutingEvent,
)
from services.router.service.assigning import queue_conversation
from services.router.service.columns import columns
from services.router.service.events import Emitter
from services.router.service.pool import POOL_KEY, AssignmentPool
from services.router.store.event_json import members_writer, model_writer
from services.router.store.models import Agent, OutboxRow
from services.router.store.outbox import OutboxWriter
from tests.unit.router.factories import PROMISE, T0, routed_samples
from tests.unit.router.test_event_snapshot import _KINDS, _agent, stored_conversation

KST = timezone(timedelta(hours=9))
AGENT = AgentRef(agent_id="agent-lee", name='Lee "\n', email="lee@example.com", locale="ko")
ROUTED = routed_samples(AGENT, PROMISE)
#: a config whose queue "general" has a supervisor (``_ready_written`` looks it up)
CONTEXT = SimpleNamespace(
    config=SimpleNamespace(
        current=SimpleNamespace(
            policies=SimpleNamespace(queues_by_name={"general": SimpleNamespace(supervisor="a-3")})
        )
    )
)


class _Unit:
    """A unit of work with a loaded assignment pool of ``agents`` and an outbox."""

    def __init__(self, agents: dict[str, Agent]) -> None:
        pool = AssignmentPool([], {})
        pool.agents.update(agents)
        self.cache: dict[str, object] = {POOL_KEY: pool}
        self.rows: list[dict[str, object]] = []
        self.outbox = OutboxWriter(self)

    def insert_later(self, model: type, values: dict[str, object]) -> None:
        assert model is OutboxRow
        self.rows.append(values)


class _SnapshotWay(Emitter):
    """``emit`` as before ``_ready_written``: every snapshot an instance."""

    def _ready_written(self, conversation: Any) -> Any:
        return None


def _rows(
    emitter_type: type[Emitter],
    agents: dict[str, Agent],
    steps: list[tuple[dict[str, object], type[RoutingEvent], dict[str, Any]]],
    parsed: list[tuple[dict[str, object] | None, object]],
    *,
    unchanged: bool = False,
) -> list[dict[str, object]] | type[Exception]:
    """The rows of ``steps`` (the conversation's values set, then the event emitted),
    one cause; or the type of the error emitting raised. ``unchanged``: each step that
    sets no value emits with ``unchanged=True`` (``emit``'s word that nothing changed)."""
    unit = _Unit(agents)
    emitter = emitter_type(unit, CONTEXT, cause="event-1", now=T0)  # type: ignore[arg-type]
    for raw, model in parsed:
        emitter.already_parsed(raw, model)
    conversation = stored_conversation(queue="general")
    try:
        for index, (values, model, fields) in enumerate(steps):
            conversation.__dict__.update(values)
            same = unchanged and index > 0 and not values
            step = emitter.emit(model, conversation, reason="why", unchanged=same, **fields)
            with pytest.raises(StopIteration):
                step.send(None)
    except (ValueError, ValidationError, OverflowError) as error:  # a time out of range too
        return type(error)
    return unit.rows


_texts = st.text(max_size=6)
_times = st.one_of(
    st.none(),
    st.datetimes(timezones=st.sampled_from([UTC, KST, timezone(timedelta(hours=-5))])),
)
_values = st.fixed_dictionaries(
    {},
    optional={
        "channel": st.sampled_from(["email", "chat", "phone", "fax"]),
        "priority": st.sampled_from(["low", "normal", "high", "urgentish"]),
        "status": st.sampled_from(["open", "pending"]),
        "subject": st.none() | _texts,
        "tags": st.none() | st.lists(_texts, max_size=3),
        "references": st.none() | st.lists(_texts, max_size=25),
        "customer": st.none()
        | st.fixed_dictionaries({}, optional={"email": st.just("A@B.example"), "phone": _texts})
        | st.just({"anonymous": "maybe"}),  # not valid: the same error both ways
        "customer_flags": st.none() | st.just({}) | st.just({"bulk": True, "spam_verdict": "x"}),
        "reply_path": st.sampled_from(_KINDS),
        "first_response_due_at": _times,
        "customer_last_inbound_at": _times,
        "assignee_id": st.sampled_from([None, "a-1", "a-2"]),
        "queue": st.sampled_from(["general", "other"]),
    },
)
_events = st.sampled_from([*ROUTED, (ConversationReopened, {})])


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(st.tuples(_values, _events), min_size=1, max_size=4),
    parsed_before=st.booleans(),
)
def test_routed_events_written_from_the_values_are_the_snapshot_ways_rows(
    steps: list[tuple[dict[str, object], tuple[type[RoutingEvent], dict[str, Any]]]],
    parsed_before: bool,
) -> None:
    # unchanged steps ({}: the last written snapshot reused), changed ones, events the
    # written way does not take (ConversationReopened) between them, the agents from
    # the pool (the queue's supervisor), the interaction's own models parsed before
    agents = {
        "a-1": _agent("a-1", "kim", "ko-KR"),
        "a-2": _agent("a-2", 'lee "\n', None),
        "a-3": _agent("a-3", "park", "en"),
    }
    calls = [(values, model, fields) for values, (model, fields) in steps]
    parsed: list[tuple[dict[str, object] | None, object]] = []
    if parsed_before:
        first = {**columns(stored_conversation()), **steps[0][0]}
        customer, flags = first["customer"], first["customer_flags"]
        if customer is not None and "anonymous" not in customer:  # type: ignore[operator]
            parsed.append((customer, CustomerIdentity.model_validate(customer)))  # type: ignore[arg-type]
        parsed.append((flags, Flags.model_validate(flags or {})))  # type: ignore[arg-type]
    expected = _rows(_SnapshotWay, agents, calls, parsed)
    assert _rows(Emitter, agents, calls, parsed) == expected


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.just({}) | _values, _events), min_size=1, max_size=5))
def test_events_emitted_unchanged_are_the_snapshot_ways_rows(
    steps: list[tuple[dict[str, object], tuple[type[RoutingEvent], dict[str, Any]]]],
) -> None:
    # an event emitted over the conversation unchanged since the emitter's last one
    # (opened, then routed) reuses that one's written snapshot: the same rows, also
    # after an event the written way does not take (ConversationReopened) or an error
    agents = {"a-1": _agent("a-1", "kim", "ko-KR"), "a-3": _agent("a-3", "park", "en")}
    calls = [(values, model, fields) for values, (model, fields) in steps]
    expected = _rows(_SnapshotWay, agents, calls, [])
    assert _rows(Emitter, agents, calls, [], unchanged=True) == expected


def _one_cause() -> tuple[_Unit, Emitter, Any]:
    """A unit whose pool has the queue's supervisor, an emitter, a conversation."""
    unit = _Unit({"a-3": _agent("a-3", "park", "en")})
    emitter = Emitter(unit, CONTEXT, cause="event-1", now=T0)  # type: ignore[arg-type]
    return unit, emitter, stored_conversation(queue="general")


def test_an_unchanged_event_takes_the_last_emitted_snapshot_without_its_key() -> None:
    model, fields = ROUTED[0]
    unit, emitter, conversation = _one_cause()
    for unchanged in (False, True):
        step = emitter.emit(model, conversation, reason=None, unchanged=unchanged, **fields)
        with pytest.raises(StopIteration):
            step.send(None)
        # the second's word taken: _ready_written not asked (it would give None now)
        emitter._ready_written = lambda _conversation: None  # type: ignore[method-assign]
    assert unit.rows[0]["payload"] == unit.rows[1]["payload"]
    other = stored_conversation(queue="general", status="pending")  # not the last's
    step = emitter.emit(model, other, reason=None, unchanged=True, **fields)
    with pytest.raises(StopIteration):
        step.send(None)
    assert '"status":"pending"' in unit.rows[2]["payload"]  # type: ignore[operator]


def test_the_written_way_is_taken_and_reuses_an_unchanged_snapshot() -> None:
    model, fields = ROUTED[0]
    unit, emitter, conversation = _one_cause()
    first = emitter._ready_written(conversation)
    assert first is not None and first[0] == "conv-1"
    assert emitter._ready_written(conversation) is first  # unchanged: written once
    conversation.__dict__["status"] = "pending"
    changed = emitter._ready_written(conversation)
    assert changed is not None and changed is not first and '"status":"pending"' in changed[1]
    snapshot = emitter._ready_snapshot(conversation)
    assert changed[1] == snapshot.model_dump_json()  # type: ignore[union-attr]
    conversation.__dict__["tags"].append("new")  # changed in place: a new key all the same
    assert '"new"' in emitter._ready_written(conversation)[1]  # type: ignore[index]
    unpooled = Emitter(unit, CONTEXT, cause="e", now=T0, uses_pool=False)  # type: ignore[arg-type]
    assert unpooled._ready_written(conversation) is None
    snapshot = emitter._ready_snapshot(conversation)
    step = emitter.emit(model, conversation, reason=None, **fields)
    with pytest.raises(StopIteration):
        step.send(None)
    assert (
        unit.rows[-1]["payload"]
        == model(
            conversation=snapshot, occurred_at=T0, cause_event_id="event-1", **fields
        ).model_dump_json()
    )


def test_the_members_writer_writes_what_the_model_writer_writes() -> None:
    write, write_members = model_writer(ConversationSnapshot), members_writer(ConversationSnapshot)
    assert write is not None and write_members is not None
    snapshot = ConversationSnapshot(
        conversation_id="conv-1",
        reference="C-7",
        channel="chat",
        status="open",
        queue="general",
        subject='출금 \u2028 "지연"',
        contact_id="contact-1",
        customer=CustomerIdentity(phone="+821012345678", display_name="김"),
        customer_flags=Flags(auto_reply=True),
        assignee=AGENT,
        customer_last_inbound_at=datetime(2026, 3, 2, 1, tzinfo=UTC),
    )
    members = dict(snapshot.__dict__)
    assert write_members(members) == write(snapshot) == snapshot.model_dump_json()
    assert members["customer"] is snapshot.customer.__dict__  # given up: nested in place
    odd = dict(snapshot.__dict__, customer_last_inbound_at=datetime(2026, 3, 2, 1, tzinfo=KST))
    assert write_members(odd) is None  # not UTC: left to pydantic-core
    assert write_members(dict(snapshot.__dict__, customer={"phone": "1"})) is None


def test_an_agent_row_missing_from_the_pool_is_no_reference() -> None:
    # an assignee the pool does not hold: no reference, both ways (as _ready_snapshot)
    agents: dict[str, Agent] = {}
    model, fields = ROUTED[0]
    calls = [({"assignee_id": "nobody"}, model, fields)]
    rows = _rows(Emitter, agents, calls, [])
    assert rows == _rows(_SnapshotWay, agents, calls, [])
    assert isinstance(rows, list) and '"assignee":null' in str(rows[0]["payload"])


@pytest.mark.parametrize("assignee", [None, "a-1"])
@pytest.mark.parametrize("queued_at", [None, T0])
def test_a_conversation_queued_unchanged_is_the_snapshot_ways_rows(
    assignee: str | None, queued_at: datetime | None
) -> None:
    # routed, then queued (its queued_at, which no snapshot shows, set; an assignee
    # released): the rows of the snapshot's way, whichever the conversation had
    agents = {"a-1": _agent("a-1", "kim", "ko-KR"), "a-3": _agent("a-3", "park", "en")}
    model, fields = ROUTED[0]
    found = []
    for emitter_type, unchanged in ((_SnapshotWay, False), (Emitter, True)):
        unit = _Unit(agents)
        emitter = emitter_type(unit, CONTEXT, cause="event-1", now=T0)  # type: ignore[arg-type]
        conversation = stored_conversation(
            queue="general", assignee_id=assignee, queued_at=queued_at
        )
        asked: list[object] = []
        ready_written = emitter._ready_written
        emitter._ready_written = functools.partial(_counted, asked, ready_written)  # type: ignore[method-assign]
        for step in (
            emitter.emit(model, conversation, reason=None, **fields),
            queue_conversation(emitter, conversation, reason="why", unchanged=unchanged),
        ):
            with pytest.raises(StopIteration):
                step.send(None)
        assert columns(conversation)["assignee_id"] is None
        if unchanged:  # the queued event's key worked out only where an assignee left
            assert len(asked) == (1 if assignee is None else 2)
        found.append(unit.rows)
    assert found[0] == found[1]
    assert ('"assignee":null' in found[1][1]["payload"]) is True  # type: ignore[operator]


def _counted(asked: list[object], ready_written: Any, conversation: object) -> Any:
    asked.append(conversation)
    return ready_written(conversation)

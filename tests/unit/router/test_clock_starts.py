"""A customer message's clocks started together (clocks.on_customer_message, sla.clock_dues)
give what starting them one at a time gives (on_customer_message_by_steps, clock_due):
the same conversation values, ORM changes and timer rows, in the same order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import make_transient_to_detached

from libs.common.events.routing import SlaMetric
from services.router.configuration import SAMPLE_DIR, load_config
from services.router.domain.lifecycle import InvalidTransition
from services.router.domain.members import FIRST_RESPONSE
from services.router.domain.sla import ClockDue, clock_due, clock_dues
from services.router.service.clocks import (
    _BREACH,
    _WARNING,
    _add_timers,
    on_customer_message,
    on_customer_message_by_steps,
)
from services.router.store.models import Conversation, SlaTimer
from services.router.store.unit_of_work import UnitOfWork, _insert_columns, new_row
from tests.unit.router.test_row_changes import history_changes

CONFIG = load_config(
    SAMPLE_DIR / "rules.yaml", SAMPLE_DIR / "policies.yaml", SAMPLE_DIR / "agents.yaml"
)
CTX: Any = SimpleNamespace(config=SimpleNamespace(current=CONFIG))
QUEUES = [q.name for q in CONFIG.policies.queues]
START = datetime(2026, 1, 1, tzinfo=UTC)
instants = st.integers(0, 400 * 24 * 3600 * 10**6).map(lambda n: START + timedelta(microseconds=n))


def _add_timers_by_rows(
    uow: UnitOfWork,
    conversation_id: object,
    dues: list[ClockDue | None],
    cycle: int,
    started_at: datetime,
    changes: dict[str, object],
) -> None:
    """``_add_timers`` clock by clock and row by row through ``insert_later``, the
    changes worked out from the started clocks afterwards: what it is held equal to."""
    started = [due for due in dues if due is not None]
    for number, due in enumerate(started, cycle + 1):
        metric_value = due.metric.value
        for kind, due_at in ((_WARNING, due.warning_at), (_BREACH, due.breach_at)):
            if due_at is not None:
                uow.insert_later(
                    SlaTimer,
                    {
                        "conversation_id": conversation_id,
                        "metric": metric_value,
                        "kind": kind,
                        "cycle": number,
                        "target_minutes": due.target_minutes,
                        "clock_started_at": started_at,
                        "breach_at": due.breach_at,
                        "due_at": due_at,
                        "fired_at": None,
                        "cancelled_at": None,
                    },
                )
    if started:
        changes["clock_cycle"] = cycle + len(started)
        first_responses = [due for due in started if due.metric is FIRST_RESPONSE]
        if first_responses:
            changes["first_response_due_at"] = first_responses[-1].breach_at


class RecordingUow:
    def __init__(self) -> None:
        self.rows: list[tuple[type, dict[str, object]]] = []

    def insert_later(self, model: type, values: dict[str, object]) -> None:
        self.rows.append((model, dict(values)))

    def insert_timers_later(
        self, conversation_id: object, rows: tuple[dict[str, Any], ...]
    ) -> None:
        assert all(row["conversation_id"] == conversation_id for row in rows)
        for row in rows:
            self.insert_later(SlaTimer, row)


conversation_states = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["open", "waiting_on_customer", "resolved"]),
        "queue": st.sampled_from(QUEUES),
        "priority": st.sampled_from(["low", "normal", "high", "urgent"]),
        "channel": st.sampled_from(["email", "chat", "phone"]),
        "automated": st.booleans(),
        "resolution_running_since": st.none() | instants,
        "awaiting_since": st.none() | instants,
        "first_response_at": st.none() | instants,
        "resolution_elapsed_minutes": st.none() | st.floats(0, 5000),
        "clock_cycle": st.none() | st.integers(0, 5),
        "policy": st.none() | st.just("earlier"),
        "first_response_due_at": st.none() | instants,
    }
)


def conversation(state: dict[str, object], *, loaded: bool) -> Conversation:
    row = new_row(Conversation, {k: None for k, _ in _insert_columns(Conversation).keys})
    row.__dict__.update(id="conv-1", **state)
    if loaded:
        make_transient_to_detached(row)  # set through the ORM's tracking, as a loaded row
    return row


def routed(handler: Any, state: dict[str, object], at: datetime, *, loaded: bool) -> Any:
    row, uow = conversation(state, loaded=loaded), RecordingUow()
    try:
        handler(uow, CTX, row, at)
    except InvalidTransition as error:
        return ("raised", str(error))
    values = {k: row.__dict__[k] for k, _ in _insert_columns(Conversation).keys}
    changes = history_changes(row) if loaded else None
    return values, changes, uow.rows


@settings(max_examples=400, deadline=None)
@given(state=conversation_states, at=instants, loaded=st.booleans())
def test_clocks_started_together_as_one_at_a_time(
    state: dict[str, object], at: datetime, loaded: bool
) -> None:
    assert routed(on_customer_message, state, at, loaded=loaded) == routed(
        on_customer_message_by_steps, state, at, loaded=loaded
    )


def test_a_new_conversation_starts_both_clocks() -> None:
    state = {
        "status": "open",
        "queue": "general",
        "priority": "normal",
        "channel": "email",
        "automated": False,
        "resolution_elapsed_minutes": 0.0,
        "clock_cycle": 0,
    }
    values, _, rows = routed(on_customer_message, state, START, loaded=False)
    assert [(r["metric"], r["kind"], r["cycle"]) for _, r in rows] == [
        ("resolution", "warning", 1),
        ("resolution", "breach", 1),
        ("first_response", "warning", 2),
        ("first_response", "breach", 2),
    ]
    assert values["clock_cycle"] == 2 and values["policy"] == "email-30-minutes"
    assert values["first_response_due_at"] == rows[-1][1]["breach_at"]


@settings(max_examples=300, deadline=None)
@given(
    at=instants,
    zone=st.sampled_from([UTC, ZoneInfo("Asia/Seoul"), ZoneInfo("America/New_York")]),
    policy=st.sampled_from(CONFIG.policies.policies),
    clocks=st.lists(
        st.tuples(st.sampled_from(list(SlaMetric)), st.floats(0, 5000) | st.just(0.0)),
        max_size=3,
    ),
)
def test_clock_dues_are_each_clock_due(
    at: datetime, zone: Any, policy: Any, clocks: list[Any]
) -> None:
    at = at.astimezone(zone)  # routing passes UTC; either way the same instants
    calendar = CONFIG.policies.calendar_objects[policy.calendar]
    expected = [
        clock_due(calendar, policy.sla_targets, m, started_at=at, elapsed_minutes=e)
        for m, e in clocks
    ]
    assert clock_dues(calendar, policy.sla_targets, tuple(clocks), started_at=at) == expected


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5])
def test_clock_dues_without_a_warning_point(fraction: float) -> None:
    policy = CONFIG.policies.policies[-1]
    targets = policy.sla_targets.__class__(
        first_response_minutes=30,
        next_response_minutes=None,
        resolution_minutes=60,
        warning_fraction=fraction,
    )
    calendar = CONFIG.policies.calendar_objects[policy.calendar]
    clocks = ((SlaMetric.RESOLUTION, 50.0), (SlaMetric.NEXT_RESPONSE, 0.0))
    clocks += ((SlaMetric.FIRST_RESPONSE, 0.0),)
    expected = [
        clock_due(calendar, targets, m, started_at=START, elapsed_minutes=e) for m, e in clocks
    ]
    assert clock_dues(calendar, targets, clocks, started_at=START) == expected


def bare_uow() -> UnitOfWork:
    """A unit of work's queues only (what ``insert_later`` and ``insert_timers_later`` fill)."""
    uow = object.__new__(UnitOfWork)
    uow._bulk, uow._new_timers = {}, {}
    return uow


#: a started clock's due (its metric, target, warning and breach) or None (not started)
clock_starts = st.none() | st.builds(
    ClockDue, st.sampled_from(list(SlaMetric)), st.integers(1, 600), st.none() | instants, instants
)


@settings(max_examples=300, deadline=None)
@given(
    starts=st.lists(
        st.tuples(
            st.sampled_from(["conv-1", "conv-2"]),
            st.lists(clock_starts, max_size=3),
            st.integers(0, 5),
            instants,
        ),
        max_size=4,
    )
)
def test_clocks_timer_rows_queued_together_as_row_by_row(starts: list[Any]) -> None:
    queued = []
    for add in (_add_timers, _add_timers_by_rows):
        uow = bare_uow()
        changed = []
        for conversation_id, dues, cycle, at in starts:
            changes: dict[str, object] = {}
            add(uow, conversation_id, dues, cycle, at, changes)
            changed.append(list(changes.items()))
        timers = uow._bulk.get(SlaTimer, [])
        # the conversations' lists hold the very rows queued (cancel_timers_later sets them)
        by_conversation = [id(row) for rows in uow._new_timers.values() for row in rows]
        assert sorted(by_conversation) == sorted(id(row) for row in timers)
        queued.append(
            (
                [list(row.items()) for row in timers],
                {key: [list(row.items()) for row in rows] for key, rows in uow._new_timers.items()},
                list(uow._new_timers),
                changed,
            )
        )
    assert queued[0] == queued[1]

"""``new_row`` and ``PersistentRows`` make rows with ``ClassManager.new_instance``'s
steps inlined (``persistent.row_maker``), the values made the row's ``__dict__``: the
same row as ``new_instance()`` then ``__dict__.update(values)``."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect
from sqlalchemy.orm import make_transient_to_detached

from services.router.store.models import Agent, Contact, Conversation
from services.router.store.unit_of_work import _insert_columns, manager_of, new_row

MODELS = (Conversation, Agent, Contact)
VALUES = st.one_of(st.none(), st.text(max_size=5), st.integers(), st.booleans())


def made_by_the_orm(model: type, values: dict[str, object]) -> Any:
    row = manager_of(model).new_instance()
    row.__dict__.update(values)
    return row


def state_of(row: object) -> dict[str, object]:
    state = inspect(row)
    return {
        "class": state.class_,
        "manager": state.manager,
        "object": state.obj() is row,
        "key": state.key,
        "session": state.session_id,
        "committed": dict(state.committed_state),
        "expired": set(state.expired_attributes),
        "modified": state.modified,
        "transient": state.transient,
        "unloaded": set(state.unloaded),
    }


@st.composite
def rows(draw: st.DrawFn) -> tuple[type, dict[str, object]]:
    model = draw(st.sampled_from(MODELS))
    keys = [key for key, _ in _insert_columns(model).keys]
    chosen = draw(st.lists(st.sampled_from(keys), unique=True))
    return model, {key: draw(VALUES) for key in chosen}


@settings(max_examples=300, deadline=None)
@given(rows())
def test_new_row_is_the_row_new_instance_makes(row: tuple[type, dict[str, object]]) -> None:
    model, values = row
    made = new_row(model, dict(values))
    expected = made_by_the_orm(model, dict(values))
    assert type(made) is model
    assert {k: v for k, v in made.__dict__.items() if k != "_sa_instance_state"} == values
    assert state_of(made) == state_of(expected)
    for key in values:
        assert getattr(made, key) == getattr(expected, key)
    make_transient_to_detached(made)  # as the unit of work tracks it after its INSERT
    make_transient_to_detached(expected)
    assert state_of(made) == state_of(expected)


def test_the_values_given_become_the_rows_dict() -> None:
    values: dict[str, object] = {"id": "conv-1", "status": "open"}
    row = new_row(Conversation, values)
    assert row.__dict__ is values
    row.status = "pending"  # tracked by the ORM as on any row
    assert values["status"] == "pending"

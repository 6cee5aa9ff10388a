"""``unit_of_work.set_values`` on a row the session tracks sets its values as ``setattr``
does through the ORM (``_ScalarAttributeImpl.set`` and ``_modified_event`` written out):
the same dict, committed state, modified flag, identity map's modified set, strong
reference, session transaction, and so the same changes the commit writes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect
from sqlalchemy.orm import Session, make_transient_to_detached

from services.router.store.models import Agent, Conversation
from services.router.store.unit_of_work import (
    _changed_values,
    _equality,
    _insert_columns,
    _plain_columns,
    new_row,
    set_values,
)

MODELS = (Conversation, Agent)
VALUES = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.integers(-2, 2),
    st.booleans(),
    st.lists(st.text(max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=2), st.booleans(), max_size=2),
)


def loaded(model: type, values: dict[str, object], missing: list[str]) -> Any:
    """A row as a load leaves it (its columns but ``missing`` present, nothing changed)."""
    row = new_row(model, {k: v for k, v in values.items() if k not in missing})
    make_transient_to_detached(row)
    return row


def state_of(row: object, session: Session | None) -> dict[str, object]:
    state = inspect(row)
    found = {
        "dict": {k: v for k, v in row.__dict__.items() if k != "_sa_instance_state"},
        "committed": dict(state.committed_state),
        "modified": state.modified,
        "strong": state._strong_obj is row,
        "key": state.key,
        "changed": _changed_values(state, _equality(type(row))),
    }
    if session is not None:
        found["dirty"] = row in session.dirty
        found["identity modified"] = state in session.identity_map._modified
        found["transaction"] = session._transaction is not None
    return found


@st.composite
def changes(draw: st.DrawFn) -> tuple[type, dict[str, object], list[str], list[dict[str, Any]]]:
    model = draw(st.sampled_from(MODELS))
    keys = [key for key, _ in _insert_columns(model).keys]
    values = {key: draw(VALUES) for key in keys} | {"id": "row-1"}
    missing = draw(st.lists(st.sampled_from([k for k in keys if k != "id"]), max_size=2))
    settable = [k for k in keys if k != "id"]
    rounds = draw(
        st.lists(
            st.dictionaries(
                st.sampled_from(settable),
                st.one_of(VALUES, st.sampled_from(list(values.values()))),
                max_size=4,
            ),
            min_size=1,
            max_size=3,
        )
    )
    return model, values, missing, rounds


@settings(max_examples=300, deadline=None)
@given(changes(), st.sampled_from(["session", "committed", "detached", "added after"]))
def test_set_values_leaves_the_state_setattr_leaves(
    drawn: tuple[type, dict[str, object], list[str], list[dict[str, Any]]], where: str
) -> None:
    model, values, missing, rounds = drawn
    states = []
    for setter in (set_values, _through_the_orm):
        row = loaded(model, values, missing)
        session = None
        before = rounds[:1] if where == "added after" else []  # changed while detached
        for changed in before:
            setter(row, dict(changed))
        if where != "detached":
            session = Session()
            session.add(row)
            if where == "committed":
                session.commit()  # no flush to do: the transaction ends, autobegin again
        for changed in rounds[len(before) :]:
            setter(row, dict(changed))
        states.append(state_of(row, session))
    assert states[0] == states[1]


def test_the_primary_key_goes_through_the_orm() -> None:
    assert "id" not in _plain_columns(Conversation)
    keys = {key for key, _ in _insert_columns(Conversation).keys}
    assert _plain_columns(Conversation) == keys - {"id"}
    row = loaded(Conversation, {key: None for key in keys} | {"id": "c-1"}, [])
    session = Session()
    session.add(row)
    set_values(row, {"id": "c-2", "queue": "vip"})
    assert inspect(row).committed_state == {"id": "c-1", "queue": None}
    assert row in session.dirty


def test_a_new_row_is_still_set_in_place() -> None:
    row = new_row(Conversation, {"id": "c-1", "status": "open"})
    set_values(row, {"status": "pending"})
    assert row.__dict__["status"] == "pending"
    assert not inspect(row).committed_state and not inspect(row).modified


def _through_the_orm(row: object, values: dict[str, object]) -> None:
    for key, value in values.items():
        setattr(row, key, value)

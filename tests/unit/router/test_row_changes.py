"""How the unit of work reads and sets conversation rows without the ORM's per-attribute
machinery (services/router/store/unit_of_work.py): the changed columns the commit
writes are those the ORM's history finds, a new row's values are set in place only
before its INSERT, and its INSERT values are every column's."""

from __future__ import annotations

from copy import copy
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE

from services.router.store.models import Agent, Conversation
from services.router.store.unit_of_work import (
    _changed_values,
    _column_values,
    _equality,
    _insert_columns,
    manager_of,
    new_row,
    set_values,
    unflushed_values,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def loaded_conversation() -> Conversation:
    """A conversation as a load leaves it: every column present, nothing changed."""
    row = new_row(Conversation, {k: None for k, _ in _insert_columns(Conversation).keys})
    row.__dict__.update(
        id="conv-1",
        reference="C-1",
        contact_id="contact-1",
        channel="chat",
        status="open",
        queue="general",
        priority="normal",
        tags=["vip"],
        references=["m-1"],
        customer={"phone": "+821012345678"},
        customer_flags={},
        clock_cycle=1,
        escalation_level=0,
        breached=False,
        automated=False,
        resolution_elapsed_minutes=0.0,
        assistant_answers=0,
        opened_at=T0,
        last_activity_at=T0,
    )
    make_transient_to_detached(row)
    return row


def history_changes(row: Conversation) -> dict[str, object]:
    """What the commit wrote before: the ORM's history of every attribute set."""
    state = inspect(row)
    return {
        key: getattr(row, key)
        for key in state.committed_state
        if state.get_history(key, PASSIVE_NO_INITIALIZE).has_changes()
    }


def test_changed_columns_are_those_the_orm_history_finds() -> None:
    row = loaded_conversation()
    row.status = "open"  # set to the value it had: no change
    row.tags = ["vip"]  # an equal new list: no change either
    row.queue = "security"
    row.assignee_id = "agent-lee"  # None before
    row.last_activity_at = T0 + timedelta(minutes=1)
    row.references = ["m-1", "m-2"]
    row.customer = {"phone": "+821012345678", "display_name": "김"}
    row.clock_cycle = 1
    row.clock_cycle = 2  # set twice: compared with the loaded value
    expected = history_changes(row)
    assert _changed_values(inspect(row), _equality(Conversation)) == expected
    assert set(expected) == {
        "queue",
        "assignee_id",
        "last_activity_at",
        "references",
        "customer",
        "clock_cycle",
    }


def test_an_attribute_set_back_to_its_loaded_value_is_unchanged() -> None:
    row = loaded_conversation()
    row.queue = "security"
    row.queue = "general"
    assert _changed_values(inspect(row), _equality(Conversation)) == history_changes(row) == {}


def test_a_new_row_is_set_in_place_and_a_loaded_one_through_the_orm() -> None:
    new = new_row(Conversation, {"id": "conv-2", "status": "open"})
    assert unflushed_values(new) is new.__dict__
    set_values(new, {"status": "pending", "policy": "chat"})
    assert (new.status, new.policy) == ("pending", "chat")
    assert not inspect(new).committed_state  # no change tracking before its INSERT

    loaded = loaded_conversation()
    assert unflushed_values(loaded) is None
    set_values(loaded, {"status": "pending", "policy": "chat"})
    assert history_changes(loaded) == {"status": "pending", "policy": "chat"}


def test_insert_values_are_every_column_and_omit_json_left_none() -> None:
    columns = _insert_columns(Conversation)
    full = new_row(Conversation, {k: None for k, _ in columns.keys} | {"id": "c", "tags": []})
    values = _column_values(full, columns)
    assert values["id"] == "c" and values["tags"] == []
    assert "reply_path" not in values  # a JSON column left None: SQL NULL, not 'null'
    assert "subject" in values and values["subject"] is None  # other columns: None
    assert list(values) == [name for _, name in columns.keys if name in values]

    partial = new_row(Conversation, {"id": "c"})  # defaults applied, as the ORM's insert
    defaulted = _column_values(partial, columns)
    assert defaulted["id"] == "c" and "reply_path" not in defaulted


SAMPLES = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.integers(-2, 2),
    st.floats(allow_nan=True),
    st.booleans(),
    st.datetimes(timezones=st.just(UTC)),
    st.lists(st.text(max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=2), st.booleans(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([Conversation, Agent]), st.data(), SAMPLES, SAMPLES)
def test_the_commit_compares_as_the_orms_is_equal(
    model: type, data: st.DataObject, first: object, second: object
) -> None:
    key = data.draw(st.sampled_from([prop.key for prop in inspect(model).column_attrs]))
    is_equal = manager_of(model)[key].impl.is_equal
    for x, y in ((first, second), (first, first), (second, copy(second))):
        assert _equality(model)[key](x, y) == is_equal(x, y)


def column_values_by_keys(row: object) -> dict[str, object] | None:
    """What ``_column_values`` gave for a row holding every column before it copied
    such a row: a comprehension in the table's order, JSON columns left None omitted;
    None for a row missing a column (the defaults' path, unchanged)."""
    columns = _insert_columns(type(row))
    state = row.__dict__
    if any(key not in state for key, _ in columns.keys):
        return None
    values = {name: state[key] for key, name in columns.keys}
    return {k: v for k, v in values.items() if not (k in columns.json and v is None)}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([Conversation, Agent]), st.data())
def test_insert_values_of_a_full_row_are_the_comprehensions(
    model: type, data: st.DataObject
) -> None:
    keys = [key for key, _ in _insert_columns(model).keys]
    order = data.draw(st.permutations(keys))
    present = data.draw(st.lists(st.sampled_from(keys), unique=True, min_size=len(keys) - 1))
    values = {key: data.draw(SAMPLES) for key in order if key in present}
    extra = data.draw(st.dictionaries(st.sampled_from(["other", "_other"]), SAMPLES, max_size=1))
    row = new_row(model, values | extra)
    expected = column_values_by_keys(row)
    if expected is None:  # a column missing: defaults, as before
        return
    got = _column_values(row, _insert_columns(model))
    assert got == expected
    if order == keys and not extra:  # a row routing opened: in the table's order
        assert list(got.items()) == list(expected.items())
    assert "_sa_instance_state" in row.__dict__  # the row itself keeps its state

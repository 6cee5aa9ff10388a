"""``persistent.row_reader``: a loaded row's values by attribute key, each through its
result processor, as ``dict(zip(keys, row, strict=True))`` then each processor over its
value gave them (the same values, or the same error), on both stores' processors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite

from services.router.store.engine import json_loads
from services.router.store.lookups import TrackedLoad
from services.router.store.models import Agent, Conversation, UtcDateTime
from services.router.store.persistent import (
    Processors,
    _keeping_none,
    _repeating,
    repeating_values,
    row_reader,
)

DIALECTS = {
    "sqlite": aiosqlite.dialect(json_deserializer=json_loads),
    "postgresql": asyncpg.dialect(json_deserializer=json_loads),
}
LOADS = {model: TrackedLoad(model, "id") for model in (Conversation, Agent)}
JSON_TEXTS = st.one_of(
    st.sampled_from(["[]", "{}", '["en"]', '{"a": 1, "b": null}', "null", "1", " [1]", "[", "x"]),
    st.dictionaries(st.text(max_size=3), st.booleans(), max_size=3).map(json.dumps),
    st.integers(),
)
DATETIMES = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(timezones=st.just(UTC)).map(lambda at: at.replace(tzinfo=None).isoformat(" ")),
    st.datetimes().map(lambda at: at.isoformat()),
    st.sampled_from(["2026-03-02", "not a time", ""]),
)
OTHER = st.one_of(st.text(max_size=5), st.integers(), st.floats(allow_nan=False), st.booleans())


def by_the_loop(processors: Processors, row: tuple[Any, ...]) -> dict[str, Any]:
    """What ``PersistentRows.objects`` did before ``row_reader``."""
    values = dict(zip([key for key, _ in processors], row, strict=True))
    for key, process in processors:
        if process is not None:
            values[key] = process(values[key])
    return values


def outcome(read: Callable[[], dict[str, Any]]) -> tuple[str, object]:
    try:
        return "values", read()
    except Exception as error:  # the same error class either way
        return "error", type(error)


def column_values(model: type) -> st.SearchStrategy[tuple[Any, ...]]:
    kinds = []
    for prop in inspect(model).column_attrs:
        column_type = prop.columns[0].type
        if isinstance(column_type, UtcDateTime):
            kinds.append(st.none() | DATETIMES)
        elif column_type._type_affinity.__name__ == "JSON":
            kinds.append(st.none() | JSON_TEXTS)
        else:
            kinds.append(st.none() | OTHER)
    return st.tuples(*kinds)


@pytest.mark.parametrize("store", sorted(DIALECTS))
@pytest.mark.parametrize("model", [Conversation, Agent], ids=lambda model: model.__name__)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_row_read_is_the_processors_over_its_values(store, model, data) -> None:
    processors = LOADS[model]._processors_for(DIALECTS[store])
    mapper = inspect(model)
    read = row_reader(processors, keeps_none=_keeping_none(mapper), repeating=_repeating(mapper))
    # several rows through one reader: texts read before (``repeating_values``) too
    for row in data.draw(st.lists(column_values(model), min_size=1, max_size=4)):
        assert outcome(lambda row=row: read(row)) == outcome(
            lambda row=row: by_the_loop(processors, row)
        )


def test_a_row_of_another_length_is_refused() -> None:
    processors = LOADS[Agent]._processors_for(DIALECTS["sqlite"])
    read = row_reader(processors, keeps_none=_keeping_none(inspect(Agent)))
    with pytest.raises(ValueError):
        read((None,) * (len(processors) + 1))
    with pytest.raises(ValueError):
        read((None,) * (len(processors) - 1))


def test_processors_kept_from_none_return_none_for_none() -> None:
    for store, dialect in DIALECTS.items():
        for model, load in LOADS.items():
            kept = _keeping_none(inspect(model))
            assert kept, (store, model)
            for key, process in load._processors_for(dialect):
                if key in kept and process is not None:
                    assert process(None) is None, (store, model, key)


def test_the_reader_of_one_column() -> None:
    read = row_reader([("at", None)], keeps_none=frozenset())
    assert read((datetime(2026, 1, 1),)) == {"at": datetime(2026, 1, 1)}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(JSON_TEXTS | st.sampled_from(['["a", 1, 2.5, true, null]', '{"n": [1]}']), max_size=8)
)
def test_repeating_values_are_new_containers_of_what_decoding_gives(texts) -> None:
    process = dict(LOADS[Conversation]._processors_for(DIALECTS["sqlite"]))["customer_flags"]
    read = repeating_values(process)
    for text in [*texts, *texts]:  # each text again: read before
        got = outcome(lambda text=text: read(text))
        assert got == outcome(lambda text=text: process(text))
        if got[0] == "values" and isinstance(got[1], (list, dict)):
            again = read(text)
            assert again == got[1] and again is not got[1]
            got[1].clear()  # a caller changing its value changes no other's
            assert read(text) == again


def test_the_columns_read_as_repeating() -> None:
    assert _repeating(inspect(Conversation)) == {"tags", "skills", "customer_flags"}

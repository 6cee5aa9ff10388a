"""New ORM rows' INSERT parameters made from their dicts (``bulk.NewObjects``, the unit
of work's ``_new_rows``) store what the general path stored: their values copied
(``_column_values``: every column, a JSON column left None omitted), grouped by shape,
then converted by each shape's plan. SQLite: both stored in a database and read back;
PostgreSQL: each row's parameters by column (a column left out of the statement: NULL),
by executemany tuples and by COPY records."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects.postgresql.asyncpg import dialect as postgresql_dialect
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as sqlite_dialect

from services.router.store.bulk import BulkInserter, NewObjects, _tuple_maker
from services.router.store.models import Agent, Base, Conversation, UtcDateTime
from services.router.store.unit_of_work import (
    UnitOfWork,
    _column_values,
    _insert_columns,
    new_row,
)

SQLITE = sqlite_dialect()
POSTGRESQL = postgresql_dialect()
#: one of each for the whole module: their plans are compiled once
INSERTERS = {"sqlite": BulkInserter(SQLITE), "postgresql": BulkInserter(POSTGRESQL)}
KST = timezone(timedelta(hours=9))


class Kind(StrEnum):
    OPEN = "open"


#: values a routed row may hold, by the column's kind: None or one of its type's
_JSON = st.sampled_from(
    [None, [], ["m-1", "m-2"], {}, {"a": False, "b": None, "c": "x"}, {"n": [1, 2.5]}, [["x"]]]
)
_TIMES = st.sampled_from(
    [None, datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC), datetime(1999, 12, 31, tzinfo=KST)]
)
_OTHERS = st.sampled_from([None, "", "text", 0, 3, True, False, 1.5, Kind.OPEN])


def _values_of(column: sa.Column[Any]) -> st.SearchStrategy[Any]:
    if isinstance(column.type, sa.JSON):
        return _JSON
    if isinstance(column.type, UtcDateTime):
        return _TIMES
    return _OTHERS


@st.composite
def new_rows(draw: st.DrawFn, model: type) -> list[Any]:
    """Rows as ``new_row`` makes them for ``add_new``: most with every column (in the
    table's order or not), some missing one (the defaults' path), ids of their own."""
    table = model.__table__  # type: ignore[attr-defined]
    keys = [key for key, _ in _insert_columns(model).keys]
    rows = []
    for n in range(draw(st.integers(1, 6))):
        order = draw(st.permutations(keys)) if draw(st.booleans()) else keys
        missing = draw(st.sampled_from([None, None, None, *keys[1:]]))
        values = {
            key: draw(_values_of(table.c[key])) for key in order if key not in (missing, "id")
        }
        rows.append(new_row(model, {"id": f"{model.__name__}-{n}"} | values))
    return rows


def general_groups(rows: list[Any]) -> list[tuple[sa.Table, list[dict[str, Any]]]]:
    """What ``_new_rows`` gave before ``NewObjects``: each row's values copied
    (``_column_values``), grouped by their keys."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        values = _column_values(row, _insert_columns(type(row)))
        shapes.setdefault(tuple(values), []).append(values)
    return [(type(rows[0]).__table__, same_shape) for same_shape in shapes.values()]


def taken_groups(rows: list[Any]) -> list[tuple[sa.Table, list[dict[str, Any]]]]:
    uow = UnitOfWork.__new__(UnitOfWork)
    uow._new = list(rows)
    return uow._new_rows().groups


def stored(table: sa.Table, groups: list[tuple[sa.Table, list[dict[str, Any]]]]) -> list[Any]:
    """SQLite: the rows ``sqlite_inserts`` of ``groups`` store, read back by id."""
    connection = sqlite3.connect(":memory:")
    # the columns alone (no NOT NULL, key or foreign key): the values as written
    connection.execute(
        f"CREATE TABLE {table.name} ("
        + ", ".join(
            f'"{c.name}" {c.type.compile(dialect=SQLITE)}'
            + ("" if c.server_default is None else f" DEFAULT {c.server_default.arg.text}")
            for c in table.columns
        )
        + ")"
    )
    inserter = INSERTERS["sqlite"]
    for written, rows in groups:
        for write in inserter.sqlite_inserts(written, rows):
            connection.executemany(write.sql, write.values)
    return connection.execute(f"SELECT * FROM {table.name} ORDER BY id").fetchall()  # noqa: S608


def parameters(
    table: sa.Table, groups: list[tuple[sa.Table, list[dict[str, Any]]]], copy_from: int | None
) -> list[dict[str, Any]]:
    """PostgreSQL: each row's parameters by column (a column the statement leaves out:
    NULL, None), by id."""
    inserter = INSERTERS["postgresql"]
    rows = []
    for written, group in groups:
        for plan, values, copy in inserter._runs(written, group, copy_from=copy_from):
            assert (copy is not None) == (copy_from is not None)
            for value in values:
                given = dict(zip(plan.columns, value, strict=True))
                rows.append({column.key: given.get(column.key) for column in table.columns})
    return sorted(rows, key=lambda row: row["id"])


@settings(max_examples=int(os.environ.get("NEW_OBJECTS_EXAMPLES", 60)), deadline=None)
@given(st.data())
@pytest.mark.parametrize("model", [Conversation, Agent])
def test_new_objects_store_what_their_copied_values_stored(
    model: type, data: st.DataObject
) -> None:
    rows = data.draw(new_rows(model))
    table = model.__table__  # type: ignore[attr-defined]
    expected = general_groups(rows)  # before _new_rows: it may set defaults in the rows
    taken = taken_groups(rows)
    whole = [group for _, group in taken if type(group) is NewObjects]
    assert sum(map(len, whole)) == sum(
        all(key in row.__dict__ for key, _ in _insert_columns(model).keys) for row in rows
    )
    assert stored(table, taken) == stored(table, expected)
    for copy_from in (None, 1):
        assert parameters(table, taken, copy_from) == parameters(table, expected, copy_from)


def test_a_json_none_of_new_objects_is_its_default_or_sql_null() -> None:
    """A JSON column's None: its Python default's text where it has one (tags: '[]'),
    else NULL (reply_path), not JSON 'null'; any other column's None is passed on."""
    keys = [key for key, _ in _insert_columns(Conversation).keys]
    row = new_row(Conversation, dict.fromkeys(keys) | {"id": "c"})
    [(table, group)] = taken_groups([row])
    assert type(group) is NewObjects
    [(plan, [values], _)] = BulkInserter(POSTGRESQL)._runs(table, group, copy_from=None)
    given = dict(zip(plan.columns, values, strict=True))
    assert given["tags"] == "[]" and given["customer"] == "{}" and given["reply_path"] is None
    assert given["automated"] is None and given["opened_at"] is None
    [write] = BulkInserter(SQLITE).sqlite_inserts(table, group)
    assert "reply_path" not in write.sql and "opened_at" not in write.sql  # NULL in all rows
    assert '"tags"' in write.sql or " tags" in write.sql


def test_tuple_maker_gives_json_none_its_own_value() -> None:
    make = _tuple_maker(["a", "b", "c"], {1: str, 2: str}, {1: None, 2: lambda: "d"})
    assert make({"a": 1, "b": None, "c": None}) == (1, None, "d")
    assert make({"a": 1, "b": 2, "c": 3}) == (1, "2", "3")
    with pytest.raises(KeyError):
        make({"a": 1, "b": 2})


def test_every_router_table_has_a_plan_of_new_objects() -> None:
    """No JSON column with a server default (its None could not be given)."""
    for dialect in (SQLITE, POSTGRESQL):
        inserter = BulkInserter(dialect)
        for table in Base.metadata.sorted_tables:
            assert inserter._objects_plan(table).columns == [c.key for c in table.columns]

"""SQLite's multi-row INSERTs bind a constant once (``bulk._constants``: the columns
marked ``models.RUN_CONSTANT`` holding one value of one type in every row) and store
exactly the rows one INSERT a row stores, whether the rows hold their constants, all
but one row, or not at all (in-memory SQLite)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from services.router.store import bulk
from services.router.store.bulk import SQLITE_ROWS_A_STATEMENT, BulkInserter, _tuple_maker
from services.router.store.models import (
    RUN_CONSTANT,
    Contact,
    Conversation,
    InteractionRecord,
    OutboxRow,
    SlaTimer,
    UtcDateTime,
)

KST = timezone(timedelta(hours=9))
SQLITE = sqlite_dialect()
T0 = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)

_METADATA = sa.MetaData()
REPEATS = sa.Table(
    "repeats",
    _METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("k", sa.String, info=RUN_CONSTANT),
    sa.Column("n", sa.Integer, info=RUN_CONSTANT),
    sa.Column("x", sa.String, info=RUN_CONSTANT),  # numbers too: 1 and 1.0 differ as text
    sa.Column("at", UtcDateTime(), info=RUN_CONSTANT),
    sa.Column("v", sa.String),
    sa.Column("j", sa.JSON),
)
COLUMNS = [column.key for column in REPEATS.columns]


def _store(writes: list[bulk.SqliteWrite]) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(str(sa.schema.CreateTable(REPEATS).compile(dialect=SQLITE)))
        bulk._write_all(writes, True, connection)
        return connection.execute(
            "SELECT id, k, n, typeof(n), x, typeof(x), at, v, j FROM repeats ORDER BY id"
        ).fetchall()
    finally:
        connection.close()


def _stored_one_a_row(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows as one INSERT a row of every column stores them (the reference)."""
    converters = {
        index: BulkInserter(SQLITE)._converter(REPEATS.c[key]) for index, key in enumerate(COLUMNS)
    }
    row_tuple = _tuple_maker(COLUMNS, {i: c for i, c in converters.items() if c is not None})
    marks = ", ".join("?" * len(COLUMNS))
    sql = f"INSERT INTO repeats ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608
    write = bulk.SqliteWrite(sql, list(map(row_tuple, rows)), "repeats", None)
    return _store([write])


@st.composite
def repeating_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows whose marked columns hold one value, or with some row breaking it by another
    value or an equal one of another type (1, True and 1.0; one instant in two zones),
    or drawn row by row (constant by chance only)."""
    count = draw(st.integers(0, 2 * sum(SQLITE_ROWS_A_STATEMENT) + 3))
    broken = draw(st.none() | st.integers(0, max(count - 1, 0)))
    loose = draw(st.booleans())
    rows = []
    for index in range(count):
        row = {
            "id": index,
            "k": draw(st.sampled_from(["open", "closed"])) if loose else "open",
            "n": draw(st.sampled_from([1, True, 2])) if loose else 1,
            "x": draw(st.sampled_from([1, 1.0, 0.0, -0.0])) if loose else 1,
            "at": T0.astimezone(KST) if loose and index % 3 else T0,
            "v": f"v{index % 5}",
            "j": draw(st.sampled_from([{}, None, []])),
        }
        if index == broken:
            column = draw(st.sampled_from(["k", "n", "x", "at"]))
            row[column] = draw(
                st.sampled_from(
                    {
                        "k": ["other", None],
                        "n": [True, 1.0, 3, None],
                        "x": [1.0, True, 2],
                        "at": [T0.astimezone(KST), T0 + timedelta(microseconds=1), None],
                    }[column]
                )
            )
        rows.append(row)
    return rows


@settings(max_examples=150, deadline=None)
@given(repeating_rows())
def test_multi_row_inserts_store_what_one_insert_a_row_stores(rows: list[dict[str, Any]]):
    writes = BulkInserter(SQLITE).sqlite_inserts(REPEATS, rows)
    assert _store(writes) == _stored_one_a_row(rows)


def test_constants_are_bound_once_a_statement():
    """64 rows holding their constants: each row binds its id, ``v`` and JSON; the first
    row the constants too, which the other rows take from it."""
    rows = [
        {"id": index, "k": "open", "n": 1, "x": 1, "at": T0, "v": f"v{index}", "j": {}}
        for index in range(64)
    ]
    [write] = BulkInserter(SQLITE).sqlite_inserts(REPEATS, rows)
    [parameters] = write.values
    assert len(parameters) == 64 * 3 + 4
    assert "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7), (?8, ?2, ?3, ?4, ?5, ?9, ?10)," in write.sql
    assert _store([write]) == _stored_one_a_row(rows)


def test_an_equal_value_of_another_type_is_not_a_constant():
    """1 and 1.0 are equal but a TEXT column stores them apart: bound a row each."""
    rows = [
        {"id": index, "k": "open", "n": 1, "x": 1.0 if index == 9 else 1, "at": T0}
        | {"v": "v", "j": []}
        for index in range(16)
    ]
    [write] = BulkInserter(SQLITE).sqlite_inserts(REPEATS, rows)
    [parameters] = write.values
    assert len(parameters) == 16 * 4 + 3
    assert _store([write]) == _stored_one_a_row(rows)


def test_a_json_column_is_never_marked():
    """Equal JSON values may be different texts (1 and 1.0): not bound once."""
    table = sa.Table("json_repeats", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    table.append_column(sa.Column("j", sa.JSON, info=RUN_CONSTANT))
    with pytest.raises(ValueError, match="JSON"):
        BulkInserter(SQLITE).sqlite_inserts(table, [{"id": 1, "j": {"a": 1}}])


def test_only_constants_are_known():
    table = sa.Table("periodic", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    table.append_column(sa.Column("p", sa.String, info={"repeats": "periodic"}))
    with pytest.raises(ValueError, match="periodic"):
        BulkInserter(SQLITE).sqlite_inserts(table, [{"id": 1, "p": "a"}])


def test_the_router_marks_only_constants_of_its_new_rows():
    """The marks the router's rows repeat by: a poll's time and a new conversation's
    constants; never a key."""
    inserter = BulkInserter(SQLITE)
    expected = {
        Contact: {"created_at"},
        Conversation: {"status", "queued_at", "automated", "breached", "clock_cycle"},
        InteractionRecord: {"direction", "kind", "processed_at"},
        OutboxRow: {"occurred_at"},
        SlaTimer: set(),
    }
    for model, columns in expected.items():
        table = model.__table__
        plan = inserter._plan(
            table, tuple(c.key for c in table.columns if c.autoincrement is not True)
        )
        marked = {key for _, key, _ in plan.constants}
        assert not marked & {c.key for c in table.primary_key}
        assert columns <= marked, model

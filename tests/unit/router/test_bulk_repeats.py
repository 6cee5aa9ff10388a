"""SQLite's multi-row INSERTs bind a repeating value once (``bulk._repeated``: the
columns marked ``models.RUN_CONSTANT``, ``RUN_PERIODIC``, ``RUN_GROUPED``, ``same_as``)
and store exactly the rows one INSERT a row stores, whether the rows repeat as marked,
in part, or not at all (in-memory SQLite)."""

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
    RUN_GROUPED,
    RUN_PERIODIC,
    Contact,
    Conversation,
    InteractionRecord,
    SlaTimer,
    UtcDateTime,
    same_as,
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
    sa.Column("p", sa.String, info=RUN_PERIODIC),
    sa.Column("g", sa.String, info=RUN_GROUPED),
    sa.Column("n", sa.Integer, info=RUN_PERIODIC),
    sa.Column("at", UtcDateTime()),
    sa.Column("s", UtcDateTime(), info=same_as("at")),
    sa.Column("j", sa.JSON),
)
COLUMNS = [column.key for column in REPEATS.columns]


def _store(writes: list[bulk.SqliteWrite]) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(str(sa.schema.CreateTable(REPEATS).compile(dialect=SQLITE)))
        bulk._write_all(writes, True, connection)
        return connection.execute("SELECT * FROM repeats ORDER BY id").fetchall()
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
    """Rows whose marked columns repeat as marked, or with some row breaking it, or
    not at all; of equal values of other types (1 and True, one instant in two zones)."""
    count = draw(st.integers(0, 2 * sum(SQLITE_ROWS_A_STATEMENT) + 3))
    period = draw(st.sampled_from([1, 2, 3, 4, 8, 16]))
    group = draw(st.sampled_from([1, 2, 3, 4, 8, 16]))
    broken = draw(st.none() | st.integers(0, max(count - 1, 0)))
    loose = draw(st.booleans())  # values drawn row by row: patterns hold by chance only
    rows = []
    for index in range(count):
        at = T0 + timedelta(seconds=index // group)
        row = {
            "id": index,
            "k": draw(st.sampled_from(["open", "closed"])) if loose else "open",
            "p": f"m{index % period}",
            "g": f"c{index // group}",
            "n": index % period if index % 5 else bool(index % period) * (index % period),
            "at": at,
            "s": at.astimezone(KST) if index % 3 else at,
            "j": draw(st.sampled_from([{}, None, []])),
        }
        if index == broken:
            column = draw(st.sampled_from(["k", "p", "g", "n", "s", "j"]))
            row[column] = {
                "k": "other",
                "p": "m-other",
                "g": "c-other",
                "n": True,
                "s": None,
                "j": {"flag": True},
            }[column]
        rows.append(row)
    return rows


@settings(max_examples=150, deadline=None)
@given(repeating_rows())
def test_multi_row_inserts_store_what_one_insert_a_row_stores(rows: list[dict[str, Any]]):
    writes = BulkInserter(SQLITE).sqlite_inserts(REPEATS, rows)
    assert _store(writes) == _stored_one_a_row(rows)


def test_repeating_values_are_bound_once_a_statement():
    """64 rows of 16 groups of 4, periods of 4: every marked column's value taken from
    the row or column it repeats, each row binding its id and instant only (and the
    first rows the periods' values)."""
    rows = [
        {
            "id": index,
            "k": "open",
            "p": f"m{index % 4}",
            "g": f"c{index // 4}",
            "n": index % 4,
            "at": T0 + timedelta(seconds=index),
            "s": T0 + timedelta(seconds=index),
            "j": {},
        }
        for index in range(64)
    ]
    [write] = BulkInserter(SQLITE).sqlite_inserts(REPEATS, rows)
    [parameters] = write.values
    # ids, instants and JSON 64 each; the groups 16; the constant once; the periods 4 each
    assert len(parameters) == 64 * 3 + 16 + 1 + 4 * 2
    assert "(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)" in write.sql
    assert _store([write]) == _stored_one_a_row(rows)


def test_a_json_column_is_never_marked():
    """Equal JSON values may be different texts (1 and 1.0): not bound once."""
    table = sa.Table("json_repeats", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    table.append_column(sa.Column("j", sa.JSON, info=RUN_CONSTANT))
    with pytest.raises(ValueError, match="JSON"):
        BulkInserter(SQLITE).sqlite_inserts(table, [{"id": 1, "j": {"a": 1}}])


def test_the_router_marks_only_constants_of_its_new_rows():
    """The marks the router's rows repeat by: a poll's time and a new conversation's
    constants; never a key."""
    inserter = BulkInserter(SQLITE)
    expected = {
        Contact: {"created_at"},
        Conversation: {"status", "queued_at", "automated", "breached", "clock_cycle"},
        InteractionRecord: {"direction", "kind", "processed_at"},
        SlaTimer: set(),
    }
    for model, columns in expected.items():
        table = model.__table__
        plan = inserter._plan(
            table, tuple(c.key for c in table.columns if c.autoincrement is not True)
        )
        marked = {plan.columns[index]: kind for index, _, kind, _ in plan.repeating}
        assert not set(marked) & {c.key for c in table.primary_key}
        assert columns <= set(marked), model
        assert set(marked.values()) <= {"constant"}, model

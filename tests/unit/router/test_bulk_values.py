"""The bulk inserter's value conversions (services/router/store/bulk.py) give what
their slower equivalents gave: ``json.dumps``, the SQLite datetime text, PostgreSQL's
binary ``timestamptz`` as asyncpg computes it, and each row's parameter tuple in
statement order."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from services.router.store import bulk
from services.router.store.bulk import (
    _PG_MICROS,
    _REPEATING_TEXTS,
    _SECOND_TEXTS,
    _SQLITE_TEXTS,
    SQLITE_ROWS_A_STATEMENT,
    BulkInserter,
    _chunks,
    _Copy,
    _json,
    _PgMicros,
    _Plan,
    _repeating_json,
    _sqlite_params,
    _sqlite_text,
    _SqliteTexts,
    _tuple_maker,
)
from services.router.store.models import UtcDateTime

KST = timezone(timedelta(hours=9))
SQLITE = sqlite_dialect()
T0 = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "text",
        '김 \u2028 "quoted" \\ </script>',
        1,
        1.5,
        float("nan"),
        True,
        [],
        ["m-1", "m-2"],
        {},
        {"phone": "+821012345678", "display_name": "김", "email": None, "anonymous": False},
        {"nested": [{"a": [1, 2.25, None]}], 3: "int key"},
    ],
)
def test_json_is_json_dumps(value: object) -> None:
    assert _json(value) == json.dumps(value)
    assert _repeating_json(value) == json.dumps(value)
    assert _repeating_json(value) == json.dumps(value)  # looked up the second time


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from([0, 1, -0.0, 0.0, 1.0, 2]),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
)
_KEYS = st.one_of(st.text(max_size=5), st.booleans(), st.none(), st.sampled_from([0, 1, 1.0]))


@given(
    st.lists(
        st.one_of(
            st.lists(_SCALARS, max_size=4),
            st.dictionaries(_KEYS, _SCALARS, max_size=4),
            st.lists(st.lists(_SCALARS, max_size=2), max_size=2),
            st.dictionaries(st.text(max_size=3), st.lists(_SCALARS, max_size=2), max_size=2),
            _SCALARS,
        ),
        max_size=12,
    )
)
def test_repeating_json_is_json_dumps_whatever_came_before(values: list[object]) -> None:
    """Looked-up texts never stand for another value: equal flat values of other types
    (True and 1, 0.0 and -0.0, "1" and 1 as keys) or orders each get their own text."""
    for value in [*values, *values]:
        assert _repeating_json(value) == json.dumps(value)


def test_repeating_json_texts_are_bounded() -> None:
    for n in range(3000):
        assert _repeating_json([str(n)]) == json.dumps([str(n)])
    assert all(len(texts) <= 1024 for texts in _REPEATING_TEXTS)


def test_sqlite_text_is_naive_utc_with_microseconds_whatever_the_zone() -> None:
    texts = _SqliteTexts()
    assert texts[T0] == "2026-03-02 09:30:15.123456"
    assert texts[T0.astimezone(KST)] == "2026-03-02 09:30:15.123456"
    assert texts[T0.replace(microsecond=0)] == "2026-03-02 09:30:15.000000"
    assert texts[None] is None
    assert _SQLITE_TEXTS[T0] == _sqlite_text(T0)


def test_sqlite_text_refuses_a_naive_datetime_and_does_not_keep_it() -> None:
    texts = _SqliteTexts()
    with pytest.raises(ValueError, match="naive"):
        texts[T0.replace(tzinfo=None)]
    assert len(texts) == 0


def test_sqlite_texts_are_bounded() -> None:
    texts = _SqliteTexts()
    for n in range(_SqliteTexts.LIMIT + 10):
        moment = T0 + timedelta(seconds=n)
        assert texts[moment] == _sqlite_text(moment)
    assert len(texts) <= _SqliteTexts.LIMIT


def test_sqlite_texts_of_one_second_share_its_text_and_the_seconds_are_bounded() -> None:
    # the text up to the second is kept per second (_SECOND_TEXTS), the microseconds not
    processor = sa.DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert processor is not None
    for micros in (0, 1, 9, 10, 99_999, 100_000, 999_999):
        moment = T0.replace(microsecond=micros)
        for zoned in (moment, moment.astimezone(KST)):
            assert _sqlite_text(zoned) == processor(moment.replace(tzinfo=None))
    for n in range(_SqliteTexts.LIMIT + 10):
        moment = T0 + timedelta(seconds=n, microseconds=n)
        assert _sqlite_text(moment) == processor(moment.replace(tzinfo=None))
    assert 0 < len(_SECOND_TEXTS) <= _SqliteTexts.LIMIT


def test_row_tuples_in_statement_order_with_converters() -> None:
    order = ["id", "at", 'it\'s "odd"', "payload", "plain"]
    make = _tuple_maker(order, {1: _SQLITE_TEXTS.__getitem__, 3: _json})
    row = {"plain": 7, "payload": {"a": 1}, 'it\'s "odd"': "x", "at": T0, "id": "r-1"}
    assert make(row) == ("r-1", "2026-03-02 09:30:15.123456", "x", '{"a": 1}', 7)


def test_row_tuples_without_converters() -> None:
    assert _tuple_maker(["a", "b"], {})({"b": 2, "a": 1}) == (1, 2)
    assert _tuple_maker(["a"], {})({"a": 1}) == (1,)
    assert _tuple_maker(["a"], {0: str})({"a": 1}) == ("1",)


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
    )
)
def test_sqlite_text_is_sqlalchemys_text_of_the_utc_instant(moment: datetime) -> None:
    """The same text as SQLAlchemy's SQLite DATETIME processor for the naive UTC instant
    (the golden test pins stored rows; this covers years, zones and microseconds)."""
    processor = sa.DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert processor is not None
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    assert _sqlite_text(moment) == processor(naive)
    assert _SqliteTexts()[moment] == processor(naive)


_SHAPES = sa.Table(
    "shapes",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("a", sa.String),
    sa.Column("b", sa.String),
    sa.Column("c", sa.String),
    sa.Column("at", sa.DateTime),
    sa.Column("kind", sa.String, default="plain"),
)


def _statements(rows: list[dict[str, object]]) -> list[tuple[str, list[tuple[object, ...]]]]:
    inserter = BulkInserter(SQLITE)
    return [(write.sql, write.values) for write in inserter.sqlite_inserts(_SHAPES, rows)]


def test_rows_of_one_shape_are_one_statement_whatever_their_key_order() -> None:
    rows = [{"id": 1, "a": "x", "b": "y"}, {"b": "v", "id": 2, "a": "w"}]
    [(sql, values)] = _statements(rows)
    assert sql.startswith("INSERT OR FAIL INTO shapes (id, a, b, kind)")
    assert values == [(1, "x", "y", "plain"), (2, "w", "v", "plain")]


def test_runs_of_other_shapes_are_statements_of_their_own_in_order() -> None:
    """Rows as many keys as the first but other keys, or fewer, or more, split the rows
    into runs, as ``groupby`` on their keys did."""
    rows: list[dict[str, object]] = [
        {"id": 1, "a": "x", "b": "y"},
        {"id": 2, "a": "x", "c": "z"},  # as many keys, another one
        {"id": 3, "a": "x", "c": "z"},
        {"id": 4, "a": "x"},  # fewer
        {"id": 5, "a": "x", "b": "y", "kind": "odd"},  # more, a default's column given
        {"id": 6, "a": "x", "b": "y"},
    ]
    statements = _statements(rows)
    assert [values for _, values in statements] == [
        [(1, "x", "y", "plain")],
        [(2, "x", "z", "plain"), (3, "x", "z", "plain")],
        [(4, "x", "plain")],
        [(5, "x", "y", "odd")],
        [(6, "x", "y", "plain")],
    ]
    assert statements[1][0].startswith("INSERT OR FAIL INTO shapes (id, a, c, kind)")
    assert statements[3][0].startswith("INSERT OR FAIL INTO shapes (id, a, b, kind)")


def test_no_rows_no_statement() -> None:
    assert _statements([]) == []


#: PostgreSQL: what asyncpg's ``timestamptz`` encoder writes, as it computes it
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def asyncpg_micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - PG_EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
    )
)
def test_copy_timestamps_are_asyncpgs_binary_timestamptz(moment: datetime) -> None:
    assert _PG_MICROS[moment] == asyncpg_micros(moment)
    assert _PG_MICROS[moment.astimezone(KST)] == asyncpg_micros(moment)  # the same instant


def test_copy_timestamps_refuse_a_naive_datetime_and_keep_none() -> None:
    with pytest.raises(ValueError, match="naive"):
        _PG_MICROS[datetime(2026, 3, 2, 9, 30)]
    assert _PG_MICROS[None] is None
    assert len(_PgMicros()) == 0


def test_copy_timestamps_are_bounded() -> None:
    micros = _PgMicros()
    for n in range(_PgMicros.LIMIT + 10):
        micros[T0 + timedelta(microseconds=n)]
    assert len(micros) <= _PgMicros.LIMIT


def test_a_copy_names_its_timestamps_int8_and_converts_its_json() -> None:
    table = sa.Table(
        "copied",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UtcDateTime),
        sa.Column("data", sa.JSON),
        sa.Column("name", sa.String),
    )
    copy = _Copy(table, ["id", "at", "data", "name"])
    assert copy.intro == 'SELECT "id", 0::int8 AS "at", "data", "name" FROM "copied" LIMIT 1'
    assert copy.statement == 'COPY "copied"("id", "at", "data", "name") FROM STDIN (FORMAT binary)'
    row = {"id": 1, "at": T0, "data": {"a": [1]}, "name": "x"}
    assert copy.record(row) == (1, asyncpg_micros(T0), '{"a": [1]}', "x")
    assert copy.record({**row, "at": None, "data": None}) == (1, None, "null", "x")


def test_only_the_repeating_json_columns_look_their_texts_up() -> None:
    from services.router.store.models import Conversation

    table = Conversation.__table__
    inserter = BulkInserter(SQLITE)
    repeating = {"tags", "skills", "customer_flags"}
    for column in table.columns:
        if isinstance(column.type, sa.JSON):
            want = _repeating_json if column.key in repeating else _json
            assert inserter._converter(column) is want, column.key


def _nullable_table() -> sa.Table:
    return sa.Table(
        "nullable_rows",
        sa.MetaData(),
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("a", sa.String),
        sa.Column("b", sa.String, default="b-default"),
        sa.Column("c", sa.String, server_default="c-default"),
        sa.Column("d", sa.Integer),
    )


def test_sqlite_inserts_leave_out_columns_none_in_every_row_without_defaults() -> None:
    """Only a column None in every row of its run, with no default of either kind and not
    the key, is left out (SQLite stores NULL there all the same); the rows' other values
    stay in order."""
    table = _nullable_table()
    inserter = BulkInserter(SQLITE)
    rows = [{"id": None, "a": None, "b": None, "c": None, "d": n} for n in range(3)]
    [write] = inserter.sqlite_inserts(table, rows)
    assert write.sql == "INSERT OR FAIL INTO nullable_rows (id, b, c, d) VALUES (?, ?, ?, ?)"
    assert write.values == [(None, None, None, n) for n in range(3)]
    some = [{"id": "x", "a": None, "d": None}, {"id": "y", "a": "a", "d": None}]
    [write] = inserter.sqlite_inserts(table, some)  # b's Python default comes in
    assert write.sql == "INSERT OR FAIL INTO nullable_rows (id, a, b) VALUES (?, ?, ?)"
    assert write.values == [("x", None, "b-default"), ("y", "a", "b-default")]
    [write] = inserter.sqlite_inserts(table, [{"id": "z", "a": None, "d": None}])
    assert write.values == [("z", "b-default")]  # one column left besides the key's


@given(
    st.lists(
        st.tuples(st.none() | st.text(max_size=3), st.none() | st.integers(-(2**63), 2**63 - 1)),
        max_size=40,
    )
)
def test_sqlite_inserts_store_what_every_column_stores(values: list[tuple[Any, Any]]) -> None:
    """Rows (in runs long enough for multi-row INSERTs too) stored through the leaner
    statements read back as the same rows given every column."""

    table = _nullable_table()
    rows = [{"id": str(n), "a": a, "d": d} for n, (a, d) in enumerate(values)]
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE TABLE nullable_rows (id TEXT PRIMARY KEY, a TEXT, b TEXT,"
        " c TEXT DEFAULT 'c-default', d INTEGER)"
    )
    for write in BulkInserter(SQLITE).sqlite_inserts(table, rows):
        connection.executemany(write.sql, write.values)
    stored = connection.execute("SELECT id, a, b, c, d FROM nullable_rows ORDER BY rowid")
    assert stored.fetchall() == [
        (str(n), a, "b-default", "c-default", d) for n, (a, d) in enumerate(values)
    ]


def test_sqlite_inserts_chunk_runs_within_the_parameter_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run goes in statements of each of ``SQLITE_ROWS_A_STATEMENT``'s sizes, largest
    first, as many as the rows left fill, the rest one a row; a size too wide for the
    table's rows within the library's parameter limit is skipped."""
    large, small = SQLITE_ROWS_A_STATEMENT
    table = _nullable_table()
    rows = [{"id": str(n), "a": "a", "d": n} for n in range(large + 2 * small + 3)]
    first, second, rest = BulkInserter(SQLITE).sqlite_inserts(table, rows)
    assert first.sql.count("(?, ?, ?, ?)") == large
    assert [len(chunk) for chunk in first.values] == [4 * large]
    assert second.sql.count("(?, ?, ?, ?)") == small
    assert [len(chunk) for chunk in second.values] == [4 * small, 4 * small]
    assert rest.sql.endswith("VALUES (?, ?, ?, ?)") and len(rest.values) == 3
    assert [chunk[0] for chunk in [*first.values, *second.values, *rest.values]] == [
        "0",
        str(large),
        str(large + small),
        *(str(large + 2 * small + n) for n in range(3)),
    ]
    monkeypatch.setattr(bulk, "SQLITE_MAX_PARAMETERS", 999)  # SQLite before 3.32
    wide = sa.Table("wide", sa.MetaData(), *(sa.Column(f"c{i}", sa.String) for i in range(50)))
    row = {f"c{i}": "v" for i in range(50)}
    [chunked, write] = BulkInserter(SQLITE).sqlite_inserts(wide, [row] * (large + 1))
    assert chunked.sql.count("?") == 50 * small and len(chunked.values) == large // small
    assert len(write.values) == 1
    wider = sa.Table("wider", sa.MetaData(), *(sa.Column(f"c{i}", sa.String) for i in range(70)))
    row = {f"c{i}": "v" for i in range(70)}
    [write] = BulkInserter(SQLITE).sqlite_inserts(wider, [row] * small)
    assert len(write.values) == small


def test_sqlite_parameters_limit_is_the_library_s() -> None:
    connection = sqlite3.connect(":memory:")
    limit = connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    connection.close()
    assert bulk.SQLITE_MAX_PARAMETERS == limit >= 999


_CHUNKED_ORDER = ["id", "at", "data", "flags", "n", "note"]


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "id": st.text(max_size=3),
                "at": st.none()
                | st.datetimes(timezones=st.sampled_from([UTC, KST]), allow_imaginary=False),
                "data": st.none() | st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
                "flags": st.none() | st.lists(st.sampled_from(["a", "b", True, None]), max_size=3),
                "n": st.none() | st.integers() | st.booleans(),
                "note": st.none() | st.text(max_size=3),
            }
        ),
        max_size=100,
    ),
    st.booleans(),
    st.integers(1, 6),
)
def test_sqlite_params_are_the_row_tuples_chunked(
    rows: list[dict[str, Any]], objects: bool, width: int
) -> None:
    """``_sqlite_params``' chunk tuples (made at once from 64 or 16 rows) and the rest's
    row tuples are what each row's tuple, flattened and sliced by ``_chunks``, gave: the
    same values in the same order (datetimes, JSON, repeating JSON, a JSON column's None
    of ``NewObjects``, NULLs), for plans of any width."""
    order = _CHUNKED_ORDER[:width]
    converters = {1: _SQLITE_TEXTS.__getitem__, 2: _json, 3: _repeating_json}
    converters = {i: c for i, c in converters.items() if i < width}
    json_none = {i: none for i, none in {2: None, 3: lambda: "[]"}.items() if i < width}
    plan = _Plan(
        "INSERT", order, list(converters.items()), {}, json_none=json_none if objects else None
    )
    sized = _sqlite_params(plan, rows)
    values = list(map(plan.row_tuple, rows))
    expected: list[tuple[int, list[Any]]] = []
    start = 0
    for size in SQLITE_ROWS_A_STATEMENT:
        whole = (len(values) - start) // size * size
        if whole:
            expected.append((size, _chunks(values[start : start + whole], whole, size)))
            start += whole
    if start < len(values):
        expected.append((1, values[start:]))
    assert [(size, [list(c) for c in chunks]) for size, chunks in sized] == [
        (size, [list(c) for c in chunks]) for size, chunks in expected
    ]
    assert all(type(chunk) is tuple for _, chunks in sized for chunk in chunks)

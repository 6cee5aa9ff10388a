"""The SQLite driver's registered adapters (``sqlite_driver``: ``None`` and ``bool`` found
in the ``sqlite3`` module's registry instead of its slower adaptation protocol) store
exactly what the module stored without them: the same values of the same SQLite types."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.router.store import sqlite_driver

REGISTERED = [
    (type(None), sqlite3.PrepareProtocol),
    (bool, sqlite3.PrepareProtocol),
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
)


@contextmanager
def _without_adapters() -> Iterator[None]:
    kept = {key: sqlite3.adapters.pop(key) for key in REGISTERED}
    try:
        yield
    finally:
        sqlite3.adapters.update(kept)


def _stored(rows: list[tuple[Any, ...]], *, many: bool) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("CREATE TABLE t (a, b INTEGER, c TEXT)")
        if many:
            connection.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
        else:
            for row in rows:
                connection.execute("INSERT INTO t VALUES (?, ?, ?)", row)
        return connection.execute(
            "SELECT a, typeof(a), b, typeof(b), c, typeof(c) FROM t ORDER BY rowid"
        ).fetchall()
    finally:
        connection.close()


def test_the_driver_registers_its_adapters() -> None:
    assert sqlite_driver._NO_ADAPTATION == {}
    for key in REGISTERED:
        assert key in sqlite3.adapters


@given(st.lists(st.tuples(VALUES, VALUES, VALUES), max_size=20), st.booleans())
def test_values_are_stored_as_without_the_adapters(rows: list[tuple[Any, ...]], many: bool) -> None:
    with_adapters = _stored(rows, many=many)
    with _without_adapters():
        without = _stored(rows, many=many)
    assert with_adapters == without


def test_none_is_null_and_bools_are_integers() -> None:
    [row] = _stored([(None, True, False)], many=True)
    assert row == (None, "null", 1, "integer", "0", "text")

"""The bulk inserter's value conversions (services/router/store/bulk.py) give what
their slower equivalents gave: ``json.dumps``, the SQLite datetime text, and each
row's parameter tuple in statement order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.router.store.bulk import (
    _SQLITE_TEXTS,
    _json,
    _sqlite_text,
    _SqliteTexts,
    _tuple_maker,
)

KST = timezone(timedelta(hours=9))
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


def test_row_tuples_in_statement_order_with_converters() -> None:
    order = ["id", "at", 'it\'s "odd"', "payload", "plain"]
    make = _tuple_maker(order, {1: _SQLITE_TEXTS.__getitem__, 3: _json})
    row = {"plain": 7, "payload": {"a": 1}, 'it\'s "odd"': "x", "at": T0, "id": "r-1"}
    assert make(row) == ("r-1", "2026-03-02 09:30:15.123456", "x", '{"a": 1}', 7)


def test_row_tuples_without_converters() -> None:
    assert _tuple_maker(["a", "b"], {})({"b": 2, "a": 1}) == (1, 2)
    assert _tuple_maker(["a"], {})({"a": 1}) == (1,)
    assert _tuple_maker(["a"], {0: str})({"a": 1}) == ("1",)

"""The JSON columns' reader (services/router/store/engine.py ``json_loads``) gives what
``json.loads`` gives, value or error, for the text the router writes and any other, and
both stores' engines read JSON columns with it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.router.store.bulk import _json
from services.router.store.engine import build_engine, json_loads

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
#: texts that are not one bare value: json.loads' own handling (value or error) must stay
ODD = [
    "",
    " ",
    " 1",
    "1 ",
    "\n[1]\n",
    "[1] [2]",
    "[1]x",
    "\ufeff[]",
    "{",
    '{"a": }',
    "[1,]",
    "nul",
    "NaN",
    "-Infinity",
    '"\\ud800"',
    "01",
    b"[1, 2]",
    bytearray(b'{"a": 1}'),
]


def same(text: Any) -> None:
    try:
        expected: Any = json.loads(text)
    except Exception as error:  # the same error is the point
        with pytest.raises(type(error)) as raised:
            json_loads(text)
        assert str(raised.value) == str(error)
        return
    got = json_loads(text)
    assert type(got) is type(expected)
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected


@given(value=VALUES)
def test_what_the_router_writes_reads_as_json_loads_reads_it(value: Any) -> None:
    same(_json(value))  # the bulk inserts' text
    same(json.dumps(value))  # SQLAlchemy's own JSON bind processing
    same(json.dumps(value, indent=1))


@pytest.mark.parametrize("text", ODD)
def test_other_texts_read_or_fail_as_with_json_loads(text: Any) -> None:
    same(text)


@given(text=st.text(alphabet=' \n[]{}":,0123456789.eE+-tfnulrsa\\', max_size=20))
def test_any_text_reads_or_fails_as_with_json_loads(text: str) -> None:
    same(text)


@pytest.mark.parametrize("sqlite", [True, False])
def test_both_stores_read_json_columns_with_it(sqlite: bool, tmp_path: Path) -> None:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'router.db'}"
        if sqlite
        else "postgresql+asyncpg://nobody@127.0.0.1:1/none"  # never connected
    )
    engine = build_engine(url)
    assert engine.dialect._json_deserializer is json_loads  # type: ignore[attr-defined]

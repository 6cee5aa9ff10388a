"""``fields.text``'s reading of exact ``str`` and one-item lists first: the same result as
the general reading it was (kept here) for any fields and names."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.phone_log.providers.fields import text


def text_as_before(fields: Any, *names: str) -> str | None:
    for name in names:
        value = fields.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value is None or isinstance(value, dict):
            continue
        value = str(value).strip()
        if value:
            return value
    return None


class _Text(str):
    pass


class _List(list):  # type: ignore[type-arg]
    pass


_NAMES = ["a", "b", "c"]
_TEXT = st.text(st.sampled_from([" ", "\t", "\n", "\u3000", "x", "한", "0"]), max_size=4)
_SCALAR = (
    st.none()
    | _TEXT
    | _TEXT.map(_Text)
    | st.integers()
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.dictionaries(_TEXT, _TEXT, max_size=1)
)
_ITEM = _SCALAR | st.lists(_SCALAR, max_size=2)  # a list in a list: JSON
_VALUE = _SCALAR | st.lists(_ITEM, max_size=2) | st.lists(_ITEM, max_size=2).map(_List)


@given(
    fields=st.dictionaries(st.sampled_from(_NAMES), _VALUE),
    names=st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3),
)
def test_text_reads_as_before(fields: dict[str, Any], names: list[str]) -> None:
    got = text(fields, *names)
    expected = text_as_before(fields, *names)
    assert got == expected
    assert type(got) is type(expected)

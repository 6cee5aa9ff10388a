"""SQLite ``IN`` lists padded to recurring sizes (``lookups.padded_count``): the same
keys, a few statement texts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.router.store.lookups import EXACT_KEYS_UP_TO, padded, padded_count


@given(st.integers(0, 100_000))
def test_a_list_is_padded_to_a_recurring_size_never_shorter(count: int) -> None:
    marks = padded_count(count)
    if count <= EXACT_KEYS_UP_TO:
        assert marks == count
    else:
        assert count <= marks <= count + count // 16
        assert padded_count(marks) == marks  # a size is its own padding


def test_an_octave_has_sixteen_sizes() -> None:
    for low in (64, 256, 512, 4096):
        assert len({padded_count(n) for n in range(low + 1, 2 * low + 1)}) == 16
    assert padded_count(400) == 400  # the router's poll: its event ids unpadded


@given(st.lists(st.text(max_size=3), max_size=200))
def test_padded_keys_are_the_keys_then_the_last_again(keys: list[str]) -> None:
    listed = padded(keys)
    assert len(listed) == padded_count(len(keys))
    assert listed[: len(keys)] == keys
    assert set(listed[len(keys) :]) <= set(keys[-1:])

"""The sent-log's per-poll statement sizes: every row written once, few sizes in all."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.notifier.statement_shapes import EXACT_UP_TO, insert_chunks, padded_size

LARGEST = 512
#: every size a chunk may have: each one a statement compiled once per connection
SIZES = {*range(1, EXACT_UP_TO + 1), 32, 64, 128, 256, 512}


@given(st.integers(min_value=0, max_value=5000))
def test_the_chunks_write_every_row_once_in_a_few_recurring_sizes(rows: int) -> None:
    chunks = insert_chunks(rows, LARGEST)
    assert sum(chunks) == rows
    assert set(chunks) <= SIZES
    assert len(chunks) <= rows // LARGEST + 6  # a few statements more than one, at most


def test_small_polls_and_full_chunks_are_one_statement_each() -> None:
    assert insert_chunks(0, LARGEST) == []
    assert insert_chunks(3, LARGEST) == [3]
    assert insert_chunks(EXACT_UP_TO, LARGEST) == [EXACT_UP_TO]
    assert insert_chunks(190, LARGEST) == [128, 32, 16, 14]
    assert insert_chunks(1024, LARGEST) == [512, 512]


@given(st.integers(min_value=1, max_value=5000))
def test_an_in_list_is_padded_to_a_recurring_size_never_shorter(values: int) -> None:
    marks = padded_size(values)
    assert marks >= values
    assert marks == values if values <= EXACT_UP_TO else marks in {1 << n for n in range(5, 14)}
    assert marks < 2 * values

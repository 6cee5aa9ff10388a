"""Where a routed PostgreSQL poll sends its rows ahead (``send_schedule.send_points``):
whole parts, then halves of the rest down to a quarter part, never after the last
interaction."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from services.router.service.send_schedule import send_points


def test_a_backlog_poll_sends_its_tail_in_halves() -> None:
    assert sorted(send_points(400, 200)) == [200, 300, 350]
    assert sorted(send_points(1_000, 200)) == [200, 400, 600, 800, 900, 950]
    assert sorted(send_points(400, 100)) == [100, 200, 300, 350, 375]


def test_small_polls_and_off() -> None:
    assert send_points(40, 200) == frozenset()  # a stream's poll: all at the commit
    assert sorted(send_points(120, 200)) == [60]
    assert send_points(400, 0) == frozenset()


@given(st.integers(0, 5_000), st.integers(1, 1_000))
def test_points_are_inside_the_poll_and_parts_not_below_a_quarter(total: int, every: int) -> None:
    points = sorted(send_points(total, every))
    assert all(0 < p < total for p in points)
    edges = [0, *points, total]
    parts = [b - a for a, b in itertools.pairwise(edges)]
    assert all(part >= max(every // 4, 1) for part in parts[:-1])
    assert all(part <= every for part in parts[1:])

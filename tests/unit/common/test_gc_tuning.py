"""The collector settings a service's ``__main__`` applies after start-up."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from libs.common.gc_tuning import YOUNG_THRESHOLD, collect_young_less_often


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)  # the test process keeps CPython's own


def test_only_the_youngest_generation_waits_longer(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(700, 10, 10)
    collect_young_less_often()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)


def test_the_older_generations_keep_what_was_set(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(700, 7, 3)
    collect_young_less_often(20_000)
    assert gc.get_threshold() == (20_000, 7, 3)

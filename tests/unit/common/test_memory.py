"""libs.common.memory: glibc's arena cap and heap trimming, applied, skipped off glibc,
and left to MALLOC_ARENA_MAX when the environment sets it."""

from __future__ import annotations

import asyncio

import pytest

from libs.common.memory import (
    M_ARENA_MAX,
    glibc,
    limit_arenas,
    release_free_memory,
    trim_periodically,
)


class RecordingAllocator:
    """Answers as glibc does (1: done) and keeps what it was asked."""

    def __init__(self, *, trims_wanted: int = 1) -> None:
        self.options: list[tuple[int, int]] = []
        self.trims = 0
        self._trims_wanted = trims_wanted
        self.trimmed_enough = asyncio.Event()

    def mallopt(self, param: int, value: int) -> int:
        self.options.append((param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        assert pad == 0
        self.trims += 1
        if self.trims >= self._trims_wanted:
            self.trimmed_enough.set()
        return 1


def test_the_arena_cap_is_applied():
    allocator = RecordingAllocator()
    assert limit_arenas(allocator, 2, environ={})
    assert allocator.options == [(M_ARENA_MAX, 2)]


def test_the_environment_wins_over_the_setting():
    allocator = RecordingAllocator()
    assert not limit_arenas(allocator, 2, environ={"MALLOC_ARENA_MAX": "4"})
    assert allocator.options == []


def test_zero_keeps_glibcs_default():
    allocator = RecordingAllocator()
    assert not limit_arenas(allocator, 0, environ={})
    assert allocator.options == []


def test_off_glibc_nothing_is_tuned():
    assert not limit_arenas(None, 2, environ={})
    assert not release_free_memory(None)


@pytest.mark.skipif(glibc() is None, reason="the C library is not glibc")
def test_glibc_takes_the_arena_cap():
    assert limit_arenas(glibc(), 8, environ={})  # 8 per core is glibc's own cap


async def test_the_heap_is_trimmed_until_stopped():
    allocator = RecordingAllocator(trims_wanted=3)
    stop = asyncio.Event()
    task = asyncio.create_task(trim_periodically(allocator, 0.01, stop))
    await asyncio.wait_for(allocator.trimmed_enough.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 1)
    trims = allocator.trims
    await asyncio.sleep(0.05)
    assert allocator.trims == trims

"""libs.common.memory: glibc's arena cap and heap trimming, applied, skipped off glibc,
and left to MALLOC_ARENA_MAX when the environment sets it; the same for the fixed
mmap threshold and MALLOC_MMAP_THRESHOLD_; the periodic upkeep frees
reference cycles and trims until stopped."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

import pytest

from libs.common.memory import (
    M_ARENA_MAX,
    M_MMAP_THRESHOLD,
    UPKEEP_MAX_SHARE,
    collect_and_release,
    fix_mmap_threshold,
    glibc,
    limit_arenas,
    release_free_memory,
    upkeep_periodically,
    upkeep_wait_s,
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


def test_the_mmap_threshold_is_fixed():
    allocator = RecordingAllocator()
    assert fix_mmap_threshold(allocator, 128 * 1024, environ={})
    assert allocator.options == [(M_MMAP_THRESHOLD, 128 * 1024)]


def test_the_environment_wins_over_the_mmap_threshold_setting():
    allocator = RecordingAllocator()
    assert not fix_mmap_threshold(allocator, 128 * 1024, environ={"MALLOC_MMAP_THRESHOLD_": "1"})
    assert not fix_mmap_threshold(allocator, 0, environ={})  # 0: glibc's dynamic threshold
    assert not fix_mmap_threshold(None, 128 * 1024, environ={})  # not glibc
    assert allocator.options == []


@pytest.mark.skipif(glibc() is None, reason="the C library is not glibc")
def test_glibc_takes_the_arena_cap():
    assert limit_arenas(glibc(), 8, environ={})  # 8 per core is glibc's own cap


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_upkeep_frees_cycles_that_reached_the_oldest_generation_then_trims():
    allocator = RecordingAllocator()
    node = Node()
    gc.collect()  # survives: now in the oldest generation, as a long poll's objects are
    alive = weakref.ref(node)
    del node
    collect_and_release(allocator)
    assert alive() is None
    assert allocator.trims == 1


def test_upkeep_off_glibc_still_collects():
    node = Node()
    alive = weakref.ref(node)
    del node
    collect_and_release(None)
    assert alive() is None


async def test_the_upkeep_runs_until_stopped():
    allocator = RecordingAllocator(trims_wanted=3)
    stop = asyncio.Event()
    collections: list[None] = []
    # A counting collector: a full gc.collect() of a whole test session's heap can
    # take longer than the test's patience on a loaded machine (seen in CI).
    task = asyncio.create_task(
        upkeep_periodically(allocator, 0.01, stop, collect=lambda: collections.append(None))
    )
    await asyncio.wait_for(allocator.trimmed_enough.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 1)
    trims = allocator.trims
    assert len(collections) == trims
    await asyncio.sleep(0.05)
    assert allocator.trims == trims


def test_a_slow_upkeep_waits_longer_so_it_keeps_to_its_share():
    # a few ms (a service's frozen heap): the configured interval holds
    assert upkeep_wait_s(1.0, 0.004) == 1.0
    # 2 s (a test session's heap on a loaded machine): at most 5 % of the loop's time
    assert upkeep_wait_s(1.0, 2.0) == 2.0 / UPKEEP_MAX_SHARE
    assert UPKEEP_MAX_SHARE == 0.05


async def test_the_upkeep_backs_off_after_a_slow_collection():
    allocator = RecordingAllocator(trims_wanted=99)
    stop = asyncio.Event()
    collections: list[float] = []
    two_done = asyncio.Event()

    def slow_collect() -> None:  # >= 10 ms of "collection": the next wait >= 0.2 s
        collections.append(time.perf_counter())
        time.sleep(0.01)
        if len(collections) == 2:
            two_done.set()

    task = asyncio.create_task(upkeep_periodically(allocator, 0.01, stop, collect=slow_collect))
    await asyncio.wait_for(two_done.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 1)
    # at the configured 0.01 s the second would have started ~20 ms after the first
    assert collections[1] - collections[0] >= 0.01 + 0.01 / UPKEEP_MAX_SHARE

"""libs.common.memory: glibc's arena cap and heap trimming, applied, skipped off glibc,
and left to MALLOC_ARENA_MAX when the environment sets it; the same for the fixed
mmap threshold and MALLOC_MMAP_THRESHOLD_; the upkeep frees reference cycles and
trims, between polls when due (the younger generations, the whole heap every
``full_every``-th time) and from its timer only when no poll boundary ran it; an idle
process skips it once a whole-heap one followed its last busy stretch."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

import pytest

from libs.common.memory import (
    M_ARENA_MAX,
    M_MMAP_THRESHOLD,
    QUIET_OBJECTS,
    UPKEEP_MAX_SHARE,
    MemorySettings,
    MemoryUpkeep,
    collect_and_release,
    fix_mmap_threshold,
    glibc,
    limit_arenas,
    memory_upkeep,
    quiet_since_upkeep,
    release_free_memory,
    tune_allocator,
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


def busy() -> tuple[int, int, int]:
    """``gc.get_count()`` of a process that routed a poll since the last upkeep."""
    return (QUIET_OBJECTS, 1, 0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_upkeep_runs_when_due_the_whole_heap_every_nth_time():
    clock, allocator, generations = FakeClock(), RecordingAllocator(trims_wanted=99), []
    upkeep = MemoryUpkeep(
        allocator, 1.0, full_every=3, collect=generations.append, counts=busy, clock=clock
    )
    assert not upkeep.run_if_due()  # an interval from its start
    for _ in range(4):
        clock.now += 0.5
        assert not upkeep.run_if_due()
        clock.now += 0.5
        assert upkeep.run_if_due()
    assert generations == [2, 1, 1, 2]
    assert allocator.trims == 4 and upkeep.runs == 4


def test_an_upkeep_between_polls_frees_the_polls_cycles():
    clock = FakeClock()
    upkeep = MemoryUpkeep(None, 1.0, full_every=10, counts=busy, clock=clock)
    clock.now += 1.0
    assert upkeep.run_if_due()  # the first: the whole heap
    node = Node()
    alive = weakref.ref(node)
    del node  # a poll's cycle, garbage at the poll's end
    clock.now += 1000.0  # past the wait after the full collection of the tests' heap
    assert upkeep.run_if_due()  # the younger generations only
    assert alive() is None


def test_quiet_means_no_young_collection_and_few_new_objects():
    assert quiet_since_upkeep((0, 0, 0))
    assert quiet_since_upkeep((QUIET_OBJECTS - 1, 0, 7))  # the oldest count: not ours
    assert not quiet_since_upkeep((QUIET_OBJECTS, 0, 0))
    assert not quiet_since_upkeep((0, 1, 0))  # the young generation was collected since


def test_a_polls_garbage_is_not_quiet_for_the_real_collector():
    gc.collect()
    assert quiet_since_upkeep(gc.get_count())  # just collected
    cycles = [Node() for _ in range(QUIET_OBJECTS)]
    del cycles  # a poll's reference cycles, garbage now, waiting for the collector
    assert not quiet_since_upkeep(gc.get_count())
    gc.collect()


def test_an_idle_process_skips_the_upkeep_after_one_whole_heap_collection():
    clock, allocator, generations = FakeClock(), RecordingAllocator(trims_wanted=99), []
    counts = [busy()]
    upkeep = MemoryUpkeep(
        allocator,
        1.0,
        full_every=10,
        collect=generations.append,
        counts=lambda: counts[0],
        clock=clock,
    )

    def second() -> bool:
        clock.now += 1.0
        return upkeep.run_if_due()

    assert second() and second()  # polls routed: the whole heap, then the young ones
    counts[0] = (350, 0, 2)  # idle since
    assert second()  # what the busy stretch promoted: the whole heap, once
    assert not second() and not second()  # nothing to do: no collection, no trim
    counts[0] = busy()
    assert second()  # busy again: the young generations, as scheduled
    counts[0] = (10, 0, 1)
    assert second() and not second()
    assert generations == [2, 1, 2, 1, 2]
    assert allocator.trims == 5 and upkeep.runs == 5 and upkeep.skipped == 3


def test_a_slow_upkeep_waits_longer_so_it_keeps_to_its_share():
    # a few ms (a service's frozen heap): the configured interval holds
    assert upkeep_wait_s(1.0, 0.004) == 1.0
    # 2 s (a test session's heap on a loaded machine): at most 5 % of the loop's time
    assert upkeep_wait_s(1.0, 2.0) == 2.0 / UPKEEP_MAX_SHARE
    assert UPKEEP_MAX_SHARE == 0.05


def test_the_upkeep_backs_off_after_a_slow_collection():
    clock = FakeClock()

    def slow_collect(generation: int) -> None:  # >= 10 ms: the next wait >= 0.2 s
        time.sleep(0.01)

    upkeep = MemoryUpkeep(None, 0.01, collect=slow_collect, counts=busy, clock=clock)
    clock.now += 0.01
    assert upkeep.run_if_due()
    clock.now += 0.19  # 19 intervals: still within its share of the time
    assert not upkeep.run_if_due()
    clock.now += 10.0
    assert upkeep.run_if_due()


async def test_the_timer_runs_the_upkeep_only_when_no_poll_boundary_did():
    clock, generations = FakeClock(), []
    by_timer = asyncio.Event()

    def collect(generation: int) -> None:
        generations.append(generation)
        if len(generations) > 5:
            by_timer.set()

    upkeep = MemoryUpkeep(None, 0.01, collect=collect, counts=busy, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(upkeep.run_periodically(stop))
    for _ in range(5):  # polls end every interval: each boundary runs it, never the timer
        clock.now += 0.01
        assert upkeep.run_if_due()
        await asyncio.sleep(0.03)  # the timer wakes meanwhile and finds it not overdue
    assert upkeep.runs == 5
    clock.now += 0.05  # no poll for over TIMER_PATIENCE intervals: the timer runs it
    await asyncio.wait_for(by_timer.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 1)
    runs = upkeep.runs
    clock.now += 1.0
    await asyncio.sleep(0.05)
    assert upkeep.runs == runs  # stopped


def test_a_services_memory_settings_tune_its_allocator():
    allocator = RecordingAllocator()
    settings = MemorySettings(malloc_arena_max=3, malloc_mmap_threshold_kb=256)
    tune_allocator(allocator, settings, environ={})
    assert allocator.options == [(M_ARENA_MAX, 3), (M_MMAP_THRESHOLD, 256 * 1024)]


def test_an_upkeep_interval_of_zero_means_no_upkeep():
    assert memory_upkeep(MemorySettings(memory_upkeep_interval_s=0)) is None
    upkeep = memory_upkeep(MemorySettings())
    assert isinstance(upkeep, MemoryUpkeep) and upkeep._interval == 1.0

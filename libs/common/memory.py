"""The C allocator of a long-running service, held close to what the service uses.

CPython hands every object over 512 bytes (a poll's JSON payloads, record values,
large dicts and lists) and every native allocation (SQLite's page cache, aiokafka's
buffers) to glibc's malloc. Two of its defaults let a service's RSS climb far above
what it holds (issue #16, the router under a backlog):

- one malloc arena per thread that allocates, up to 8 per core: aiosqlite runs each
  connection in a thread of its own, so each pooled connection fragments an arena
  of its own. ``M_ARENA_MAX`` caps them (``limit_arenas``, called before the threads
  exist).
- free memory inside the heap is given back to the OS only from its top: one
  long-lived object above a poll's freed working set keeps all of it resident.
  ``malloc_trim(0)`` gives back every free page (``release_free_memory``: ~2 ms
  of CPU to give back 30 MB).
- the mmap threshold is dynamic: each time a block served by mmap (128 KiB and up:
  a Kafka fetch, a large bytes or list) is freed, glibc raises the threshold to that
  block's size (up to 32 MB), so from then on such blocks are carved from the heap,
  where they interleave with smaller ones and stay resident between trims. A fixed
  threshold (``fix_mmap_threshold``) keeps every large block in a mapping of its own,
  unmapped on free: the router's peak RSS in the 30,000 backlog went 151-155 MB →
  146 MB, its RSS while routing ~143 → ~139 MB (a few mmap/munmap calls a poll).

And one default of CPython's: a batch that allocates hundreds of thousands of
objects promotes its own objects to the oldest generation before it ends, so what
it leaves in reference cycles (SQLAlchemy's instance and attribute states) waits
for a full collection, which comes every million or so allocations. Under a
backlog several polls' garbage was waiting at once. ``MemoryUpkeep`` runs a full
collection (the start-up heap is frozen) and then the trim, every second or so, and
never more than ``UPKEEP_MAX_SHARE`` of the time: between two polls when the service
says where that is (``run_if_due``), else from a timer (``run_periodically``).

Off glibc (musl, macOS) the arena cap, the mmap threshold and the trim are skipped; the collection
still runs. ``MALLOC_ARENA_MAX`` and ``MALLOC_MMAP_THRESHOLD_`` in the environment (glibc reads
them itself) win over ``limit_arenas`` and ``fix_mmap_threshold``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import platform
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

#: mallopt parameters (glibc's malloc.h)
M_ARENA_MAX = -8
M_MMAP_THRESHOLD = -3
ARENA_MAX_ENV = "MALLOC_ARENA_MAX"
MMAP_THRESHOLD_ENV = "MALLOC_MMAP_THRESHOLD_"


class Allocator(Protocol):
    """What is used of glibc (``ctypes.CDLL(None)`` in a glibc process)."""

    def mallopt(self, param: int, value: int) -> int: ...

    def malloc_trim(self, pad: int) -> int: ...


def glibc() -> Allocator | None:
    """The process's glibc, or None when the C library is another one."""
    if platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(None)  # type: ignore[return-value]


def limit_arenas(
    allocator: Allocator | None,
    max_arenas: int,
    *,
    environ: Mapping[str, str] = os.environ,
) -> bool:
    """Cap glibc's malloc arenas; True when applied. Call before threads start:
    an arena already created stays."""
    if allocator is None or max_arenas <= 0:
        return False
    if ARENA_MAX_ENV in environ:
        log.info("%s=%s from the environment is kept", ARENA_MAX_ENV, environ[ARENA_MAX_ENV])
        return False
    return allocator.mallopt(M_ARENA_MAX, max_arenas) == 1


def fix_mmap_threshold(
    allocator: Allocator | None,
    threshold_bytes: int,
    *,
    environ: Mapping[str, str] = os.environ,
) -> bool:
    """Serve blocks of ``threshold_bytes`` and up by mmap, always (glibc's dynamic
    threshold off); True when applied."""
    if allocator is None or threshold_bytes <= 0:
        return False
    if MMAP_THRESHOLD_ENV in environ:
        log.info(
            "%s=%s from the environment is kept", MMAP_THRESHOLD_ENV, environ[MMAP_THRESHOLD_ENV]
        )
        return False
    return allocator.mallopt(M_MMAP_THRESHOLD, threshold_bytes) == 1


def release_free_memory(allocator: Allocator | None) -> bool:
    """Give the free pages of every arena back to the OS; True when some were."""
    return allocator is not None and allocator.malloc_trim(0) == 1


class MemorySettings(BaseModel):
    """The allocator settings of a long-running service: a mixin of its settings class
    (``ROUTER_MALLOC_ARENA_MAX``, ``NOTIFIER_MALLOC_ARENA_MAX``, …)."""

    malloc_arena_max: int = Field(
        2,
        ge=0,
        description="glibc malloc arenas at most (set at start; 0: glibc's default of 8 per "
        "core). Each database connection's thread would fragment an arena of its own. "
        "MALLOC_ARENA_MAX in the environment wins.",
    )
    memory_upkeep_interval_s: float = Field(
        1.0,
        ge=0,
        description="How often the garbage collector runs (between two polls; the whole "
        "heap every 10th time; skipped while the process is idle) and free heap memory is "
        "given back to the OS (malloc_trim, glibc only); 0: never. Keeps a backlog's "
        "finished polls out of the RSS for a few ms of CPU a second.",
    )
    malloc_mmap_threshold_kb: int = Field(
        128,
        ge=0,
        description="glibc malloc serves blocks of this size and up by mmap, unmapped when "
        "freed (set at start; 0: glibc's dynamic threshold, which grows to 32 MB and lets "
        "large blocks stay resident in the heap). MALLOC_MMAP_THRESHOLD_ in the environment "
        "wins.",
    )


def tune_allocator(
    allocator: Allocator | None,
    settings: MemorySettings,
    *,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """The arena cap and the fixed mmap threshold of ``settings`` (``glibc()``: this
    process's). Call in ``main``, before any thread starts: an arena already created
    stays."""
    limit_arenas(allocator, settings.malloc_arena_max, environ=environ)
    fix_mmap_threshold(allocator, settings.malloc_mmap_threshold_kb * 1024, environ=environ)


def memory_upkeep(settings: MemorySettings) -> MemoryUpkeep | None:
    """The service's ``MemoryUpkeep``, or None when ``memory_upkeep_interval_s`` is 0."""
    interval = settings.memory_upkeep_interval_s
    return MemoryUpkeep(glibc(), interval) if interval > 0 else None


def collect_and_release(
    allocator: Allocator | None, collect: Callable[[], object] = gc.collect
) -> None:
    """Free the garbage in reference cycles, then give the free pages back."""
    collect()
    release_free_memory(allocator)


#: ``quiet_since_upkeep``: at most this many more tracked objects alive than after the
#: last collection. An idle router gains ~350 a second (its relay's and scheduler's
#: rounds, fetches; the notifier ~8), a routed poll tens of thousands: idle, the upkeep
#: runs every ~30 s instead of every second.
QUIET_OBJECTS = 10_000


def quiet_since_upkeep(counts: tuple[int, int, int]) -> bool:
    """True when ``gc.get_count()`` says the collector has next to nothing to do: no
    young collection since the last upkeep's (which reset the two younger counts) and
    fewer than ``QUIET_OBJECTS`` more tracked objects. An idle service skips its upkeep
    then: each was a collection and a ``malloc_trim`` walking the whole heap for
    nothing. The idle router (``bench.broker_idle_cpu``, 40 s, three interleaved pairs,
    load 5.5-7): 20.7-22.2 → 15.2-17.7 ms of CPU a second; the notifier 4.5-5.0 → 4.2."""
    young, young_collections, _ = counts
    return young_collections == 0 and young < QUIET_OBJECTS


#: The most of the event loop's time the upkeep may take. A full collection walks
#: every tracked object, so its cost grows with the heap: a few ms in a service
#: (start-up frozen), but seconds in a process that holds much more (a test session
#: running a router in-process: 540 MB, collections back to back on a loaded machine
#: starved the loop until its Kafka and database waits timed out).
UPKEEP_MAX_SHARE = 0.05


def upkeep_wait_s(interval_s: float, last_upkeep_s: float) -> float:
    """The wait before the next upkeep: ``interval_s``, stretched so that an upkeep
    that took ``last_upkeep_s`` stays within ``UPKEEP_MAX_SHARE`` of the time."""
    return max(interval_s, last_upkeep_s / UPKEEP_MAX_SHARE)


class MemoryUpkeep:
    """``collect_and_release`` every ``interval_s``, at a moment the service picks.

    A collection walks every tracked object that is not frozen, live or not: one that
    starts while a poll is being handled walks the poll's hundreds of thousands of live
    objects (rows, events, ORM states) and holds the poll up meanwhile; the same
    collection between two polls walks only what outlived them. So a consumer calls
    ``run_if_due`` between its polls, and ``run_periodically`` runs the upkeep only when
    none did for ``TIMER_PATIENCE`` intervals (no consumer in the process, or a poll taking
    seconds).

    Between polls the two younger generations hold what the polls since the last upkeep
    left behind, their reference cycles included: most upkeeps collect those
    (``gc.collect(1)``)
    and every ``full_every``-th one the whole heap, for cycles that a collection during
    a poll had promoted to the oldest generation. Router, 20,000 backlog
    (``bench.backlog_recovery``, collector time from ``gc.callbacks``; load 5-7): a full
    collection every second, wherever the timer fell, 13-18 ms each; at poll boundaries
    ~11 ms; a generation-1 one there 6-8 ms; the collector's CPU in the backlog
    ~370 → ~240 ms while routing (~18 → ~12 µs per interaction), peak RSS unchanged
    (132-133 MB).
    """

    def __init__(
        self,
        allocator: Allocator | None,
        interval_s: float,
        *,
        full_every: int = 10,
        collect: Callable[[int], object] = gc.collect,
        counts: Callable[[], tuple[int, int, int]] = gc.get_count,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._allocator = allocator
        self._interval = interval_s
        self._full_every = full_every
        self._collect = collect
        self._counts = counts
        self._clock = clock
        self._next = clock() + interval_s  # the earliest the next upkeep may run
        self._last_full = False
        self.runs = 0
        self.skipped = 0

    def run_if_due(self) -> bool:
        """The upkeep, if ``interval_s`` has passed since the last one (or the longer
        wait after a slow one: ``upkeep_wait_s``) and the process did something since
        (``quiet_since_upkeep``); True when it ran. The first quiet one collects the
        whole heap (what the last busy ones promoted), the later ones are skipped."""
        if self._clock() < self._next:
            return False
        quiet = quiet_since_upkeep(self._counts())
        if quiet and self._last_full:
            self._next = self._clock() + self._interval
            self.skipped += 1
            return False
        generation = 2 if quiet or self.runs % self._full_every == 0 else 1
        started = time.perf_counter()
        collect_and_release(self._allocator, lambda: self._collect(generation))
        took = time.perf_counter() - started
        self._next = self._clock() + upkeep_wait_s(self._interval, took)
        self._last_full = generation == 2
        self.runs += 1
        return True

    async def run_periodically(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: the upkeep once it is ``TIMER_PATIENCE`` intervals
        overdue, i.e. no poll boundary ran it for that long."""
        patience = TIMER_PATIENCE * self._interval
        while not stop.is_set():
            wait_s = max(self._next - self._clock(), 0.0) + patience
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait_s)
            if not stop.is_set() and self._clock() >= self._next + patience:
                self.run_if_due()


#: ``MemoryUpkeep.run_periodically``: how many intervals overdue the upkeep must be
#: before its timer runs it. A consumer calls ``run_if_due`` after every poll, empty
#: ones too (at least every 0.5 s when idle), so the timer is for a process with no
#: consumer, or a poll that is taking seconds: a machine so busy that a poll of 400
#: took over a second (py-spy sampling the router's backlog) had the timer interrupt
#: polls when it waited one interval.
TIMER_PATIENCE = 3

"""What a service's start-up built, moved out of the garbage collector's way.

Settings, compiled SQLAlchemy and pydantic structures, templates, clients: objects
that live as long as the process. ``gc.freeze()`` moves everything that exists into
the permanent generation, which collections no longer walk (a full collection walked
~120,000 such objects in the notifier, ~7 % of a notice's CPU). Called by the
services' ``__main__`` only, never in tests, which start many services in one process.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    gc.collect()  # what start-up left behind, before freezing the rest
    gc.freeze()


#: The youngest generation's threshold for a service that handles polls of hundreds of
#: records. A poll allocates hundreds of thousands of objects that live until the poll
#: ends; each young collection walked the ones still in use and promoted them, so they
#: were walked again by the older generations' collections. GC-tracked objects are
#: counted net of those freed, so a collection now comes once 50,000 more objects
#: live than at the last one: under a backlog almost only the memory upkeep's
#: collections remain (the router's) or the occasional one (the notifier's). The older
#: generations keep their defaults, so cycles are still reclaimed. Measured in the
#: 20,000 backlog (GC time from ``gc.callbacks``, CPU-µs per interaction, one run each,
#: load ~2.4): notifier 47.7 (700) → 21.8 (10,000) → 6.2 (50,000) → 6.6 (100,000);
#: router (upkeep included) 30.7 (10,000) → 23.9 (50,000); peak RSS unchanged (router
#: 132-134 MB, notifier 129-131 MB).
YOUNG_THRESHOLD = 50_000


def collect_young_less_often(young: int = YOUNG_THRESHOLD) -> None:
    """Collect the youngest generation every ``young`` allocations (the process's
    ``__main__`` only: tests run services inside their own process)."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young, older, oldest)


def tune_for_polls() -> None:
    """After start-up, in a service that handles polls of hundreds of records (router,
    notifier): freeze what start-up built, then collect the youngest generation less
    often. Routing a poll allocates hundreds of thousands of short-lived objects (ORM
    rows, pydantic events, bulk-insert rows); with CPython's defaults the collector ran
    every 700 allocations and now and then walked the whole start-up heap: ~15 % of the
    router's CPU in ``bench.router_throughput --decide-only`` (5,000 interactions,
    SQLite), ~10 % of the notifier's in a backlog (``bench.task_profile``). The process's
    ``__main__`` only, never in tests (they start many services in one process)."""
    freeze_startup_objects()
    collect_young_less_often()

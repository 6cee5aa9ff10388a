"""The garbage collector, tuned for routing batches (issue #16).

Routing a poll allocates hundreds of thousands of short-lived objects (ORM
rows, pydantic events, rows for the bulk inserts). With CPython's default
thresholds the collector runs every 700 allocations and, every so often,
walks the whole heap — the settings, the loaded rules, SQLAlchemy's and
pydantic's compiled structures — which never becomes garbage. Measured on
``bench.router_throughput --decide-only`` (5,000 interactions, SQLite): about
15 % of the process's CPU time. So, once the process has started:

- ``gc.freeze()`` (called by ``python -m services.router``, never in tests, which
  start many routers in one process) moves everything that exists then into the permanent
  generation, which collections no longer scan;
- the youngest generation is collected every 10,000 allocations instead of 700
  (the older generations keep their defaults, so cycles are still reclaimed).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def tune_after_startup() -> None:
    gc.collect()  # what startup left behind, before freezing the rest
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)

"""The garbage collector, tuned for routing batches (issue #16).

Routing a poll allocates hundreds of thousands of short-lived objects (ORM
rows, pydantic events, rows for the bulk inserts). With CPython's default
thresholds the collector runs every 700 allocations and, every so often,
walks the whole heap — the settings, the loaded rules, SQLAlchemy's and
pydantic's compiled structures — which never becomes garbage. Measured on
``bench.router_throughput --decide-only`` (5,000 interactions, SQLite): about
15 % of the process's CPU time. So, once the process has started:

- what exists then is frozen out of the collections
  (``libs.common.gc_tuning.freeze_startup_objects``, called by ``python -m
  services.router``, never in tests);
- the youngest generation is collected every 50,000 allocations instead of 700
  (10,000 until issue #16's GC accounting; the older generations keep their
  defaults, so cycles are still reclaimed; see
  ``libs.common.gc_tuning.collect_young_less_often``, the notifier's too).
"""

from __future__ import annotations

from libs.common.gc_tuning import collect_young_less_often, freeze_startup_objects


def tune_after_startup() -> None:
    freeze_startup_objects()
    collect_young_less_often()

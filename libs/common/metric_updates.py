"""Counting into a labelled prometheus_client metric in fewer Python calls.

``Counter.inc`` checks that the metric is observable (two calls), the amount and an
exemplar, then calls its value's ``inc`` (a lock): ~4.4 K instructions a call under
callgrind. ``Histogram.observe`` is the same checks, its sum's ``inc`` and a loop over
the bucket bounds to the bucket's ``inc``: ~8.9 K. A webhook request made two of each.
The updaters here are bound once per labelled child (the callers cache them, as they
cached the children) and make only the value updates ``inc`` and ``observe`` make, under
the same locks, so the samples are the same (``tests/unit/common/test_metric_updates.py``
holds them against prometheus_client's own methods).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable

from prometheus_client import Counter, Histogram

Update = Callable[[float], None]


def counter_adder(child: Counter) -> Update:
    """``child.inc`` for amounts that are counts (never negative, no exemplar): its
    value's own ``inc``. A child that is not observable (no label values) raises here,
    as ``inc`` would on the first count."""
    child._raise_if_not_observable()
    return child._value.inc  # type: ignore[no-any-return]


def histogram_observer(child: Histogram) -> Update:
    """``child.observe`` (no exemplar): the sum, and the first bucket whose upper bound
    the amount does not exceed (``bisect_left`` over the sorted bounds; the last is
    +Inf). A NaN, which no bound admits, goes to ``observe`` itself."""
    child._raise_if_not_observable()
    add_to_sum = child._sum.inc
    buckets = [bucket.inc for bucket in child._buckets]
    bounds = list(child._upper_bounds)
    observe = child.observe

    def observe_fast(amount: float) -> None:
        if amount != amount:  # NaN
            observe(amount)
            return
        add_to_sum(amount)
        buckets[bisect_left(bounds, amount)](1)

    return observe_fast

"""The updaters make the samples prometheus_client's own ``inc`` and ``observe`` make."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram

from libs.common.metric_updates import counter_adder, histogram_observer

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

#: Amounts on and around every bound, and anything else a float can be.
AMOUNTS = st.one_of(
    st.sampled_from([*BUCKETS, 0.0, -0.0, math.inf, -math.inf, math.nan]),
    st.sampled_from(BUCKETS).map(lambda b: math.nextafter(b, math.inf)),
    st.sampled_from(BUCKETS).map(lambda b: math.nextafter(b, -math.inf)),
    st.floats(allow_nan=True),
    st.integers(min_value=-10, max_value=10),
)


def _samples(registry: CollectorRegistry) -> list[tuple[str, dict[str, str], float]]:
    found = []
    for metric in registry.collect():
        for sample in metric.samples:
            if not sample.name.endswith("_created"):
                found.append((sample.name, sample.labels, sample.value))
    return found


def _same(left: list[tuple[str, dict[str, str], float]], right: list) -> bool:
    def key(value: float) -> object:
        return "nan" if math.isnan(value) else value

    return [(n, lab, key(v)) for n, lab, v in left] == [(n, lab, key(v)) for n, lab, v in right]


@given(st.lists(AMOUNTS, max_size=40))
def test_histogram_observer_makes_observes_samples(amounts: list[float]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    fast = Histogram("h", "h", ["p"], buckets=BUCKETS, registry=ours).labels("x")
    slow = Histogram("h", "h", ["p"], buckets=BUCKETS, registry=theirs).labels("x")
    observe = histogram_observer(fast)
    for amount in amounts:
        observe(amount)
        slow.observe(amount)
    assert _same(_samples(ours), _samples(theirs))


@given(st.lists(st.integers(min_value=0, max_value=1_000), max_size=40))
def test_counter_adder_makes_incs_samples(counts: list[int]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    fast = Counter("c", "c", ["p"], registry=ours).labels("x")
    slow = Counter("c", "c", ["p"], registry=theirs).labels("x")
    add = counter_adder(fast)
    for count in counts:
        add(count)
        slow.inc(count)
    assert _samples(ours) == _samples(theirs)


def test_a_metric_without_its_label_values_is_refused_as_by_prometheus() -> None:
    registry = CollectorRegistry()
    with pytest.raises(ValueError, match="missing label values"):
        counter_adder(Counter("c", "c", ["p"], registry=registry))
    with pytest.raises(ValueError, match="missing label values"):
        histogram_observer(Histogram("h", "h", ["p"], registry=registry))

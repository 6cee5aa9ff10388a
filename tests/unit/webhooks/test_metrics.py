"""The cached updaters count into the series ``labels()`` returns."""

from __future__ import annotations

from libs.common.webhooks.metrics import (
    WEBHOOK_EVENTS,
    WEBHOOK_SECONDS,
    webhook_events,
    webhook_seconds,
)


def test_cached_updaters_count_into_the_labelled_series() -> None:
    assert webhook_events("webchat", "published") is webhook_events("webchat", "published")
    before = WEBHOOK_EVENTS.labels("webchat", "duplicate")._value.get()
    webhook_events("webchat", "duplicate")(1)
    assert WEBHOOK_EVENTS.labels("webchat", "duplicate")._value.get() == before + 1
    assert webhook_seconds("webchat") is webhook_seconds("webchat")
    series = WEBHOOK_SECONDS.labels("webchat")
    summed, observed = series._sum.get(), sum(b.get() for b in series._buckets)
    webhook_seconds("webchat")(0.003)
    assert series._sum.get() == summed + 0.003
    assert sum(b.get() for b in series._buckets) == observed + 1
    assert series._buckets[2].get() >= 1  # 0.003 <= 0.005, the third bound

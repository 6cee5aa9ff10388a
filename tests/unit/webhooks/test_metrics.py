"""The cached metric children are the ones ``labels()`` returns: counts land in the same series."""

from __future__ import annotations

from libs.common.webhooks.metrics import (
    WEBHOOK_EVENTS,
    WEBHOOK_SECONDS,
    webhook_events,
    webhook_seconds,
)


def test_cached_children_are_the_labelled_series() -> None:
    assert webhook_events("webchat", "published") is WEBHOOK_EVENTS.labels("webchat", "published")
    assert webhook_events("webchat", "published") is webhook_events("webchat", "published")
    before = WEBHOOK_EVENTS.labels("webchat", "duplicate")._value.get()
    webhook_events("webchat", "duplicate").inc()
    assert WEBHOOK_EVENTS.labels("webchat", "duplicate")._value.get() == before + 1
    assert webhook_seconds("webchat") is WEBHOOK_SECONDS.labels("webchat")

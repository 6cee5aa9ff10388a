"""Prometheus counters for webhook services (chat_ingest, phone_log)."""

from __future__ import annotations

import functools

from prometheus_client import Counter, Histogram

from libs.common.metric_updates import Update, counter_adder, histogram_observer

WEBHOOK_REJECTIONS = Counter(
    "omnidesk_webhook_rejections_total",
    "Webhook requests refused (bad signature, malformed, oversize, unknown, bus down).",
    ["provider", "reason"],
)
WEBHOOK_EVENTS = Counter(
    "omnidesk_webhook_events_total",
    "Provider events handled: published, duplicate (already acked) or ignored.",
    ["provider", "outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "omnidesk_webhook_seconds",
    "Time from request start to the acknowledgement of a webhook.",
    ["provider"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


# Each request counts its events and observes its latency: ``labels()`` costs ~4 µs a call
# (a tuple of str(), a lock, a dict); the child's updater comes from this cache, and
# makes only the value updates ``inc``/``observe`` make (libs/common/metric_updates.py).
# The label values are bounded (providers of the routes, fixed outcomes), so is the cache.


@functools.cache
def webhook_events(provider: str, outcome: str) -> Update:
    """``WEBHOOK_EVENTS.labels(provider, outcome).inc``, looked up once: call it with the count."""
    return counter_adder(WEBHOOK_EVENTS.labels(provider, outcome))


@functools.cache
def webhook_seconds(provider: str) -> Update:
    """``WEBHOOK_SECONDS.labels(provider).observe``, looked up once: call it with the seconds."""
    return histogram_observer(WEBHOOK_SECONDS.labels(provider))

"""Prometheus metrics shared by the plumbing; services define their own beside."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_PUBLISHED = Counter(
    "omnidesk_events_published_total", "Events acknowledged by Kafka.", ["topic", "type"]
)
PUBLISH_FAILURES = Counter(
    "omnidesk_publish_failures_total", "Sends that Kafka did not acknowledge.", ["topic"]
)
PUBLISH_SECONDS = Histogram(
    "omnidesk_publish_seconds",
    "Time from send to broker ack.",
    ["topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_CONSUMED = Counter(
    "omnidesk_events_consumed_total", "Records handled by a consumer.", ["stage", "outcome"]
)
HANDLER_RETRIES = Counter(
    "omnidesk_handler_retries_total", "Handler attempts that failed and were retried.", ["stage"]
)
DEAD_LETTERS = Counter(
    "omnidesk_dead_letters_total", "Records sent to the dead-letter topic.", ["stage"]
)
HANDLE_SECONDS = Histogram("omnidesk_handle_seconds", "Time to handle one record.", ["stage"])

"""Notifier metrics (Prometheus), beside the shared consumer/producer ones."""

from __future__ import annotations

import functools
from typing import Any, Protocol

from prometheus_client import Counter, Histogram

NOTIFICATIONS = Counter(
    "omnidesk_notifications_total",
    "Notices by outcome.",
    ["channel", "template", "status"],
)
SEND_ATTEMPTS = Counter(
    "omnidesk_notification_send_attempts_total",
    "Attempts to hand a notice to SMTP or a webhook, by result.",
    ["channel", "result"],
)
SEND_SECONDS = Histogram(
    "omnidesk_notification_send_seconds",
    "Time to hand one notice over (SMTP 250 / webhook 2xx).",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


# ``labels()`` takes a lock and builds a key on every call (measured at ~10 % of a
# notice's CPU in a poll); the label sets are few (channels, templates, statuses),
# so each child is looked up once.
@functools.cache
def notified(channel: str, template: str, status: str) -> Any:
    return NOTIFICATIONS.labels(channel, template, status)


@functools.cache
def attempts(channel: str, result: str) -> Any:
    return SEND_ATTEMPTS.labels(channel, result)


@functools.cache
def send_seconds(channel: str) -> Any:
    return SEND_SECONDS.labels(channel)


class _Incrementable(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class Tally:
    """Counts added to their Prometheus counters later, at once (:meth:`flush`, after
    each poll): ``Counter.inc`` checks its argument and takes a lock, ~1.8 µs, and a
    mail counted its attempt and its outcome one by one (~1 % of its CPU)."""

    def __init__(self) -> None:
        self._counts: dict[_Incrementable, int] = {}

    def add(self, counter: _Incrementable) -> None:
        self._counts[counter] = self._counts.get(counter, 0) + 1

    def flush(self) -> None:
        counts, self._counts = self._counts, {}
        for counter, count in counts.items():
            counter.inc(count)

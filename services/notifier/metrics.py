"""Notifier metrics (Prometheus), beside the shared consumer/producer ones."""

from __future__ import annotations

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

"""Prometheus counters for webhook services (chat_ingest, phone_log)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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

"""Prometheus series of the router (served on /metrics with the shared ones)."""

from __future__ import annotations

from prometheus_client import Counter

CSAT_ANSWERS = Counter(
    "omnidesk_csat_answers_total", "Customer satisfaction answers recorded, by score.", ["score"]
)
REPLY_STATES = Counter(
    "omnidesk_reply_states_total", "Reply state changes (queued, accepted, delivered …).", ["state"]
)

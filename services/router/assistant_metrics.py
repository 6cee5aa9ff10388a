"""Prometheus series of the assistant flow in the router (served on /metrics).

Counted when the router applies the assistant's events (a batch replayed after a
rollback may count twice; ``GET /reports/assistant`` reads the store and is exact).
Deflection in PromQL: ``sum(rate(omnidesk_router_assistant_outcomes_total{outcome="resolved"}[1h]))
/ sum(rate(omnidesk_router_assistant_offered_total[1h]))``.
"""

from __future__ import annotations

from prometheus_client import Counter

OFFERED = Counter(
    "omnidesk_router_assistant_offered_total", "Chat conversations the assistant was offered."
)
OUTCOMES = Counter(
    "omnidesk_router_assistant_outcomes_total",
    "Conversations the assistant resolved or handed off, by outcome and reason.",
    ["outcome", "reason"],
)
ANSWERS = Counter(
    "omnidesk_router_assistant_answers_total", "Assistant answers sent, by article.", ["article"]
)

"""Assistant metrics (Prometheus). Deflection = resolved ÷ offered."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OFFERED = Counter("omnidesk_assistant_offered_total", "Conversations offered to the assistant.")
RESOLVED = Counter(
    "omnidesk_assistant_resolved_total",
    "Conversations the assistant resolved (deflected), by how.",
    ["resolution"],
)
HANDOFFS = Counter(
    "omnidesk_assistant_handoffs_total", "Conversations handed to a person, by reason.", ["reason"]
)
ANSWERS = Counter(
    "omnidesk_assistant_answers_total", "Article answers sent, by article.", ["article"]
)
UNANSWERED = Counter(
    "omnidesk_assistant_unanswered_total",
    "Questions no article answered confidently, by language.",
    ["language"],
)
DEFLECTION = Gauge(
    "omnidesk_assistant_deflection_ratio",
    "Resolved by the assistant ÷ offered to it, since this process started.",
)
DECISION_SECONDS = Histogram(
    "omnidesk_assistant_decision_seconds",
    "Time to decide one turn (retrieval + rules).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
KB_RELOADS = Counter(
    "omnidesk_assistant_kb_reloads_total", "KB reload attempts, by outcome.", ["outcome"]
)
KB_ARTICLES = Gauge("omnidesk_assistant_kb_articles", "Articles in the KB being served.")


def record_offered() -> None:
    OFFERED.inc()
    _update_deflection()


def record_resolved(resolution: str) -> None:
    RESOLVED.labels(resolution).inc()
    _update_deflection()


def _update_deflection() -> None:
    offered = OFFERED._value.get()  # prometheus_client keeps no public read API
    resolved = sum(
        sample.value
        for metric in RESOLVED.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )
    DEFLECTION.set(resolved / offered if offered else 0.0)

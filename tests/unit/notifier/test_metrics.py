"""Counts tallied per poll reach Prometheus once the poll (or the event) is done."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from services.notifier import metrics

from .test_handler import World
from .test_handler_batch import poll


def test_a_tally_adds_its_counts_to_the_counters_when_flushed():
    registry = CollectorRegistry()
    counter = Counter("tallied_total", "test", ["kind"], registry=registry)
    tally = metrics.Tally()
    for kind in ("a", "a", "b"):
        tally.add(counter.labels(kind))
    assert registry.get_sample_value("tallied_total", {"kind": "a"}) == 0
    tally.flush()
    tally.flush()  # nothing twice
    assert registry.get_sample_value("tallied_total", {"kind": "a"}) == 2
    assert registry.get_sample_value("tallied_total", {"kind": "b"}) == 1


def _sent(template: str) -> float:
    labels = {"channel": "smtp", "template": template, "status": "sent"}
    return REGISTRY.get_sample_value("omnidesk_notifications_total", labels) or 0.0


def _attempts_ok() -> float:
    labels = {"channel": "smtp", "result": "ok"}
    return REGISTRY.get_sample_value("omnidesk_notification_send_attempts_total", labels) or 0.0


async def test_a_poll_counts_every_outcome_and_attempt_once_it_is_done():
    world = World()
    sent, attempts = _sent("agent_assigned"), _attempts_ok()
    await world.handler.handle_batch(poll(7))
    assert _sent("agent_assigned") - sent == 7
    assert _attempts_ok() - attempts == 7


async def test_an_event_by_event_send_is_counted_when_the_event_is_done():
    world = World()
    sent = _sent("agent_assigned")
    [only] = poll(1)
    await world.handler(only)
    assert _sent("agent_assigned") - sent == 1

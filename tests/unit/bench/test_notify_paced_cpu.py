"""bench.notify_paced_cpu reads the notifier's polls and consumed records from the
exposition format prometheus_client writes for the service's own metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from bench.notify_paced_cpu import difference, parse_counts


def test_the_routing_consumers_polls_and_records_are_read_from_the_metrics():
    registry = CollectorRegistry()
    consumed = Counter("omnidesk_events_consumed", "x", ["stage", "outcome"], registry=registry)
    handled = Histogram("omnidesk_handle_seconds", "x", ["stage"], registry=registry)
    consumed.labels("notifier.handle", "ok").inc(20)
    consumed.labels("notifier.handle", "ignored").inc(10)
    consumed.labels("router.route", "ok").inc(99)  # another consumer's: not counted
    for _ in range(4):
        handled.labels("notifier.handle").observe(0.01)
    handled.labels("notifier.privacy").observe(0.01)
    assert parse_counts(generate_latest(registry)) == (4.0, 30.0)


def test_the_figures_are_per_post_handled_in_the_window():
    before = {
        "t": 0.0,
        "threads": {1: ("python", 100, 10)},
        "counts": (5.0, 30.0),
        "faults": 1000,
        "sink": 0,
        "broker": 0,
    }
    after = {
        "t": 10.0,
        "threads": {1: ("python", 300, 110), 2: ("python", 50, 10)},
        "counts": (25.0, 330.0),
        "faults": 1250,
        "sink": 10,
        "broker": 20,
    }
    figures = difference(before, after, fed=120)
    assert figures["posts_handled"] == 100  # 300 records, three a POST
    assert figures["notifier_cpu_s_per_1000"] == 25.0  # 250 ticks = 2.5 s for 100 POSTs
    assert figures["polls_per_s"] == 2.0
    assert figures["posts_per_poll"] == 5.0
    assert figures["context_switches_per_post"] == 1.1
    assert figures["page_faults_per_post"] == 2.5

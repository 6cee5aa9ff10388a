"""bench.pipeline_hops: a POST's latency split by the records' timestamps (no broker)."""

from __future__ import annotations

import json

import pytest

from bench.pipeline import webchat_request
from bench.pipeline_hops import first_times, hop_latencies, visitor_pattern
from libs.common.events.routing import ConversationAssigned

ASSIGNED = ConversationAssigned.ce_type.encode()


def test_the_visitor_is_found_in_the_post_the_bench_sends():
    body, _ = webchat_request("ab12cd34", 1_000_017)
    found = visitor_pattern("ab12cd34").search(body)
    assert found is not None and int(found.group(1)) == 1_000_017
    assert visitor_pattern("ab12cd35").search(body) is None  # another run's visitor


def test_first_times_keeps_each_visitors_earliest_record_of_the_type():
    name = json.dumps({"customer": {"name": "pbrunx7"}}).encode()
    other = json.dumps({"customer": {"name": "pbrunx70"}}).encode()
    records = [
        (2_000, [("ce_type", ASSIGNED)], name),
        (1_500, [("ce_type", b"support.conversation.opened")], name),  # another type
        (1_800, [("ce_type", ASSIGNED)], name),
        (1_900, [("ce_type", ASSIGNED)], other),
        (1_000, [("ce_type", ASSIGNED)], b'{"customer": {"name": "pbelsex7"}}'),
    ]
    assert first_times(records, "run", ASSIGNED) == {7: 1.8, 70: 1.9}
    assert first_times(records, "run") == {7: 1.5, 70: 1.9}


def test_hops_add_up_to_the_end_to_end_latency_and_the_slowest_say_where_it_went():
    due = {n: float(n) for n in range(200)}
    ingested = {n: n + 0.005 for n in range(200)}
    # two POSTs wait long in the router; one was never assigned
    assigned = {n: n + 0.005 + (0.9 if n in (3, 4) else 0.1) for n in range(199)}
    received = {n: assigned[n] + 0.05 for n in range(199)}
    hops = hop_latencies(due, ingested, assigned, received)
    assert (hops["posts"], hops["of"]) == (199, 200)
    assert hops["ingest"]["p50_ms"] == pytest.approx(5)
    assert hops["route"]["p50_ms"] == pytest.approx(100)
    assert hops["notify"]["max_ms"] == pytest.approx(50)
    # the slowest 1 % (one POST of 199) is one of the two the router held
    assert hops["slowest_1pct"] == {"ingest": 5.0, "route": 900.0, "notify": 50.0}


def test_no_complete_post_gives_counts_and_no_slowest():
    hops = hop_latencies({1: 0.0}, {}, {}, {})
    assert (hops["posts"], hops["of"], hops["slowest_1pct"]) == (0, 1, {})

"""bench.pipeline_hops: a POST's latency split by the records' timestamps (no broker)."""

from __future__ import annotations

import json

import pytest

from bench.pipeline import webchat_request
from bench.pipeline_hops import first_times, hop_latencies, hops_section, visitor_pattern
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


def test_the_doc_section_has_a_row_per_phase_with_its_hops():
    split = {
        "ingest": {"p50_ms": 1.2, "p99_ms": 14.0},
        "route": {"p50_ms": 147.0, "p99_ms": 368.0},
        "notify": {"p50_ms": 85.2, "p99_ms": 225.8},
        "slowest_1pct": {"ingest": 1.3, "route": 342.7, "notify": 113.8},
        "posts": 1000,
        "of": 1000,
    }
    runs = [
        {"rate_per_s": 500.0, "seconds": 60.0, "latency": {"p50_ms": 250.0, "p99_ms": 454.0}},
        {"rate_per_s": 200.0, "seconds": 5.0, "latency": {"p50_ms": 250.0, "p99_ms": 454.0}},
    ]
    runs[1]["hops"] = split
    runs[0]["hops"] = {"error": "KafkaConnectionError()"}  # left out
    lines = hops_section(runs)
    rows = [line for line in lines if line.startswith("| 200/s")]
    assert rows == [
        "| 200/s for 5 s | 1,000 of 1,000 | 250 / 454 | 1 / 14 | 147 / 368 | 85 / 226 "
        "| 1 / 343 / 114 |"
    ]
    assert not any(line.startswith("| 500/s") for line in lines)
    assert hops_section(runs[:1]) == ["(the pipeline's phases have no hops in this run)"]

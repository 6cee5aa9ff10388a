"""``bench.router_throughput --trace``: each hop is the time between consecutive stamps of
one interaction's path, counted only where both stamps exist."""

from __future__ import annotations

import pytest

from bench.router_throughput import (
    collection_figures,
    hop_figures,
    maintenance_ran,
    poll_figures,
    round_trip_figures,
    split_window,
    tail_figures,
)


def test_each_hop_is_the_time_between_consecutive_stamps_of_the_path():
    stamps = {"ev-1": {"due": 10.000, "created": 10.001, "bench_acked": 10.004}}
    timeline = {
        "ev-1": {
            "fetched": 10.010,
            "routing_began": 10.011,
            "handed_over": 10.031,
            "round_began": 10.032,
            "publish_began": 10.034,
            "acked": 10.036,
        }
    }
    hops = hop_figures(timeline, stamps, {"ev-1": 10.040})
    p50 = {hop: round(figures["p50_ms"], 3) for hop, figures in hops.items()}
    assert p50 == {
        "due->created": 1.0,
        "created->bench_acked": 3.0,
        "bench_acked->fetched": 6.0,
        "fetched->routing_began": 1.0,
        "routing_began->handed_over": 20.0,
        "handed_over->round_began": 1.0,
        "round_began->publish_began": 2.0,
        "publish_began->acked": 2.0,
        "acked->arrived": 4.0,
    }


def test_a_hop_missing_a_stamp_is_left_out_not_counted_as_zero():
    stamps = {"ev-1": {"due": 1.0, "created": 1.001}, "ev-2": {"due": 2.0, "created": 2.003}}
    hops = hop_figures({"ev-2": {"fetched": 2.010}}, stamps, {})
    both = hops["due->created"]  # 1 ms and 3 ms
    assert (both["p50_ms"], both["p99_ms"]) == pytest.approx((1.0, 3.0))
    assert "created->bench_acked" not in hops  # no event has the ack stamp
    assert "acked->arrived" not in hops


def test_polls_of_the_phase_are_those_that_routed_its_interactions():
    trace = {
        "timeline": {"ev-1": {"routing_began": 5.0}, "ev-2": {"routing_began": 6.0}},
        "polls": [
            {"began": 1.0, "records": 500, "ms": 200.0, "loop_cpu_ms": 150.0},  # earlier phase
            {"began": 5.0, "records": 3, "ms": 20.0, "loop_cpu_ms": 8.0},
            {"began": 6.0, "records": 5, "ms": 30.0, "loop_cpu_ms": 12.0},
        ],
        "marks": [{"began": 5.5, "rows": 8, "ms": 4.0}],
        "commits": [{"began": 5.1, "ms": 3.0}, {"began": 9.0, "ms": 50.0}],
    }
    figures = poll_figures(trace, {"ev-1": {}, "ev-2": {}})
    assert figures["polls"] == 2 and figures["records_max"] == 5
    assert figures["routing_ms_p50"] == 25.0 and figures["routing_loop_cpu_ms_p50"] == 10.0
    assert figures["marks"] == 1 and figures["offset_commit_ms_p50"] == 3.0


def test_round_trips_are_counted_per_task_and_per_poll_within_the_phase():
    trips = [
        {"began": 1.0, "scope": "poll", "sql": "BEGIN;", "ms": 9.0},  # an earlier phase
        {"began": 5.0, "scope": "poll", "sql": "BEGIN;", "ms": 1.0},
        {"began": 5.1, "scope": "poll", "sql": "COPY outbox", "ms": 5.0},
        {"began": 6.0, "scope": "poll", "sql": "BEGIN;", "ms": 3.0},
        {"began": 6.1, "scope": "relay", "sql": "WITH relay AS", "ms": 2.0},
    ]
    figures = round_trip_figures({"round_trips": trips}, 5.0, 6.5, 2)
    poll = figures["poll_round_trips"]
    assert (poll["count"], poll["per_poll"], poll["ms_total"], poll["ms_per_poll"]) == (
        3,
        1.5,
        9.0,
        4.5,
    )
    assert list(poll["top"]) == ["COPY outbox", "BEGIN;"]  # longest total wait first
    assert poll["top"]["BEGIN;"] == {"n": 2, "ms_total": 4.0, "ms_p50": 2.0, "ms_max": 3.0}
    assert figures["relay_round_trips"]["count"] == 1
    assert "other_round_trips" not in figures


def test_sqlite_hops_split_into_the_threads_run_and_the_waits_around_it():
    hop = {"scope": "poll", "sql": "_write_all", "ms": 10.0, "exec_ms": 6.0}
    trips = [
        {
            **hop,
            "began": 5.0,
            "exec_cpu_ms": 1.0,
            "exec_runnable_ms": 4.0,
            "queue_ms": 3.0,
            "resume_ms": 1.0,
        },
        {
            **hop,
            "began": 5.5,
            "exec_cpu_ms": 2.0,
            "exec_runnable_ms": 2.0,
            "queue_ms": 1.0,
            "resume_ms": 3.0,
        },
        {"began": 5.6, "scope": "poll", "sql": "WRITE LOCK", "ms": 7.0},
        {"began": 5.7, "scope": "mark", "sql": "WRITE LOCK", "ms": 30.0},
    ]
    figures = round_trip_figures({"round_trips": trips}, 5.0, 6.0, 2)
    poll = figures["poll_round_trips"]
    assert poll["per_poll"] == 1.5
    assert {k: v for k, v in poll.items() if k.endswith("_per_poll") and k != "ms_per_poll"} == {
        "exec_ms_per_poll": 6.0,
        "exec_cpu_ms_per_poll": 1.5,
        "exec_runnable_ms_per_poll": 3.0,
        "queue_ms_per_poll": 2.0,
        "resume_ms_per_poll": 2.0,
    }
    # asleep in the thread's run: 6 - 1 - 4 and 6 - 2 - 2 (the disk's waits)
    assert (poll["exec_asleep_ms_p50"], poll["exec_asleep_ms_max"]) == (1.5, 2.0)
    assert poll["exec_asleep_over_25_ms"] == 0
    assert poll["lock_wait"] == {"n": 1, "ms_p50": 7.0, "ms_p90": 7.0, "ms_max": 7.0}
    assert figures["mark_round_trips"]["lock_wait"]["ms_max"] == 30.0


def test_no_round_trips_traced_on_sqlite_adds_nothing():
    assert round_trip_figures({"round_trips": []}, 0.0, 1.0, 3) == {}
    assert round_trip_figures({}, 0.0, 1.0, 3) == {}


def test_the_tail_is_each_hops_mean_over_the_slowest_percent_end_to_end():
    # 200 interactions: 198 quick ones (10 ms end to end), two slow ones (the slowest
    # 1 %): one late out of the bench (50 ms), one slow in routing (30 ms)
    stamps = {f"ev-{n}": {"due": n, "created": n + 0.001} for n in range(198)}
    timeline = {
        f"ev-{n}": {"routing_began": n + 0.002, "handed_over": n + 0.004} for n in range(198)
    }
    arrivals = {f"ev-{n}": n + 0.010 for n in range(198)}
    stamps |= {
        "late": {"due": 500.0, "created": 500.050},
        "slow": {"due": 600.0, "created": 600.001},
    }
    timeline |= {
        "late": {"routing_began": 500.052, "handed_over": 500.054},
        "slow": {"routing_began": 600.002, "handed_over": 600.032},
    }
    arrivals |= {"late": 500.060, "slow": 600.040}
    tail = tail_figures(timeline, stamps, arrivals)
    assert tail["count"] == 2
    assert tail["due->created"] == pytest.approx(25.5)  # (50 + 1) / 2
    assert tail["routing_began->handed_over"] == pytest.approx(16.0)  # (2 + 30) / 2
    assert tail["end to end"] == pytest.approx(50.0)  # (60 + 40) / 2
    assert "bench_acked->fetched" not in tail  # no stamps for it
    assert tail["due_s"] == [500.0, 600.0]  # from the window's first due (0)


def test_collections_are_counted_within_the_phase_upkeeps_apart():
    collections = [
        {"began": 1.0, "generation": 2, "ms": 40.0, "upkeep": True},  # an earlier phase
        {"began": 5.2, "generation": 0, "ms": 1.0, "upkeep": False},
        {"began": 5.3, "generation": 1, "ms": 3.0, "upkeep": False},
        {"began": 5.9, "generation": 2, "ms": 12.0, "upkeep": True, "records_waiting": True},
        {"began": 5.95, "generation": 1, "ms": 5.0, "upkeep": True, "records_waiting": False},
    ]
    figures = collection_figures(collections, 5.0, 6.0)
    assert (figures["gc_runs"], figures["gc_ms_max"], figures["gc_ms_total"]) == (2, 3.0, 4.0)
    assert (figures["upkeep_gc_runs"], figures["upkeep_gc_ms_max"]) == (2, 12.0)
    # the next poll's records were fetched and waited for one of them
    assert figures["upkeep_gc_holding_a_poll"] == 1
    assert figures["upkeep_gc_holding_a_poll_ms_total"] == 12.0
    assert collection_figures([], 5.0, 6.0)["gc_ms_max"] is None


def test_no_arrivals_no_tail():
    assert tail_figures({}, {"ev-1": {"due": 1.0}}, {}) == {}


def test_the_measured_window_is_the_first_interactions_published_the_run_on_the_rest():
    published = {f"ev-{n}": 10.0 + n / 1000 for n in range(5)}
    measured, after = split_window(published, 3)
    assert list(measured) == ["ev-0", "ev-1", "ev-2"]
    assert after == {"ev-3": 10.003, "ev-4": 10.004}


def test_maintenance_ran_names_the_tables_whose_counters_moved():
    before = {"outbox": (0, 1), "conversations": (2, 2)}
    after = {"outbox": (1, 1), "conversations": (2, 3), "timers": (0, 1)}

    assert maintenance_ran(before, after) == {
        "autovacuum": ["outbox"],
        "autoanalyze": ["conversations", "timers"],
    }
    assert maintenance_ran(after, after) == {"autovacuum": [], "autoanalyze": []}

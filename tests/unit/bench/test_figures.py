"""bench.figures: every figure against its ceiling, verdicts, and the release gate."""

from __future__ import annotations

from typing import Any

import pytest

from bench.figures import Ceiling, ceilings, figures, release_label, router_rows, row


def step(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "ok",
        "seconds": 1.0,
        "command": "-m bench.x",
        "log": "x.log",
        "result": result,
    }


def run_results(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {
        "kafka_ceiling": {"results": {"200B": {"produce_msgs_per_s": 100_000}}},
        "store_ceiling": {
            "runs": {
                "sqlite": {"method": "executemany", "interactions_per_s": 8000.0},
                "postgresql": {"method": "copy", "interactions_per_s": 10_000.0},
            }
        },
        "webhook_chat": {
            "throughput": {"acked_per_s": 2500.0},
            "fixed_rate": {"target_rate": 2000, "acked_per_s": 1990, "latency_2xx": {"p99_ms": 40}},
            "http_ceiling": {"requests_per_s": 10_000.0},
        },
        "router_throughput": {
            "runs": [
                {
                    "store": "sqlite",
                    "throughput": {"interactions_per_s": 2000.0, "decided": 10, "interactions": 10},
                    "latency": [
                        {"rate_per_s": 1000, "p99_ms": 150.0, "decided": 5, "published": 5}
                    ],
                },
                {
                    "store": "postgresql",
                    "throughput": {"interactions_per_s": 6000.0, "decided": 10, "interactions": 10},
                    "latency": [{"rate_per_s": 1000, "p99_ms": 80.0, "decided": 5, "published": 5}],
                },
            ]
        },
        "notify_throughput": {"pooled": {"mails_per_s": 2000.0}, "handler": {"mails_per_s": 500.0}},
        "pipeline": {
            "runs": [
                {
                    "rate_per_s": 100.0,
                    "seconds": 10.0,
                    "acked_2xx": 1000,
                    "delivered": 1000,
                    "not_delivered_within_drain": 0,
                    "statuses": {"202": 1000},
                    "latency": {"p50_ms": 100.0, "p99_ms": 900.0},
                },
                {
                    "rate_per_s": 500.0,
                    "seconds": 60.0,
                    "acked_2xx": 30000,
                    "delivered": 29000,
                    "not_delivered_within_drain": 1000,
                    "statuses": {"202": 30000},
                    "generator_lag": {"p99_ms": 35.0},
                    "latency": {"p50_ms": 200.0, "p99_ms": 400.0},
                },
            ],
            "memory": {"router": {"peak_rss_mb": 120.0}, "notifier": {"peak_rss_mb": 90.0}},
        },
        "backlog_recovery": {
            "interactions": 100_000,
            "routed": 100_000,
            "recovered": True,
            "recovery_s": 50.0,
            "interactions_per_s": 2000.0,
            "routed_after_s": 20.0,
            "store": "sqlite",
            "idle_rss_mb": {"router": 118.0, "notifier": 70.0},
            "memory": {"router": {"peak_rss_mb": 160.0}, "notifier": {"peak_rss_mb": 100.0}},
        },
    }
    results.update(overrides)
    return results


def by_figure(rows: list[dict[str, Any]], path: str, figure_start: str) -> dict[str, Any]:
    matches = [r for r in rows if r["path"] == path and r["figure"].startswith(figure_start)]
    assert len(matches) == 1, (path, figure_start, [r["figure"] for r in rows])
    return matches[0]


def table_of(results: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return figures({name: step(result) for name, result in results.items()})


@pytest.mark.parametrize(
    ("load", "release", "words"),
    [
        (0.4, True, "release figures (load average 0.40"),
        (1.0, True, "release figures"),
        (1.01, False, "NOT RELEASE FIGURES: load average 1.01"),
        (None, False, "NOT RELEASE FIGURES: load average at the start unknown"),
    ],
)
def test_release_only_from_an_idle_machine(load: float | None, release: bool, words: str) -> None:
    gate = release_label(load)
    assert gate["release"] is release
    assert gate["label"].startswith(words)
    assert gate["load_at_start"] == load


def test_row_ratio_and_verdicts() -> None:
    ceiling = Ceiling("SQLite store", 8000.0, "interactions/s")
    throughput = row("p", "f", 2000, "interactions/s", target=5000, ceiling=ceiling)
    assert throughput["ceiling_pct"] == 25.0
    assert throughput["met"] is False
    assert throughput["ceiling"] == "SQLite store 8,000 interactions/s"
    at_limit = row("p", "f", 60.0, "s", target=60, higher_is_better=False)
    assert at_limit["met"] is True  # ≤ 60 s
    strict = row("p", "f", 500.0, "ms", target=500, higher_is_better=False, inclusive=False)
    assert strict["met"] is False  # p99 < 500 ms
    assert row("p", "f", None, "ms", target=1)["met"] is None
    assert row("p", "f", float("nan"), "ms", target=1)["value"] is None
    no_ceiling = row("p", "f", 10, "x", ceiling=Ceiling("HTTP", None, "req/s"))
    assert no_ceiling["ceiling_pct"] is None
    assert no_ceiling["ceiling"] == "HTTP: not measured"


def test_each_path_has_its_own_ceiling() -> None:
    found = ceilings(run_results())
    assert found["kafka"].value == 100_000
    assert found["store_sqlite"].value == 8000
    assert found["store_postgresql"].name == "PostgreSQL store (copy)"
    assert found["smtp_pool"].value == 2000
    assert found["http_chat"].value == 10_000
    assert found["http_phone"].value is None  # the phone step did not run

    rows, _ = table_of(run_results())
    chat = by_figure(rows, "chat webhook → Kafka-acked 2xx", "throughput")
    assert chat["ceiling_pct"] == 25.0 and chat["met"] is False
    assert by_figure(rows, "chat webhook → Kafka-acked 2xx", "p99")["met"] is True
    sqlite = by_figure(rows, "interactions → decisions (sqlite)", "backlog throughput")
    assert sqlite["ceiling_pct"] == 25.0  # against the SQLite store, not Kafka
    postgres = by_figure(rows, "interactions → decisions (postgresql)", "backlog throughput")
    assert postgres["ceiling_pct"] == 60.0 and postgres["met"] is True
    assert by_figure(rows, "interactions → decisions (sqlite)", "p99 at 1,000/s")["met"] is False
    notices = by_figure(rows, "routing event → notice sent", "whole notice path")
    assert notices["ceiling_pct"] == 25.0 and notices["met"] is False
    assert by_figure(rows, "routing event → notice sent", "SMTP pool")["ceiling_pct"] == 2.0
    backlog = by_figure(rows, "backlog recovery", "routed and notified")
    assert backlog["ceiling_pct"] == 25.0


def test_http_ceiling_keys_the_webhook_step_may_use() -> None:
    for ceiling in ({"acked_per_s": 7000.0}, {"throughput": {"acked_per_s": 7000.0}}, 7000.0):
        chat = {"throughput": {"acked_per_s": 3500.0}, "http_ceiling": ceiling}
        assert ceilings(run_results(webhook_chat=chat))["http_chat"].value == 7000.0


def test_pipeline_target_is_500_per_s_sustained_for_60_s() -> None:
    rows, _ = table_of(run_results())
    short = by_figure(rows, "webhook → agent mail (pipeline)", "p99 at 100/s for 10 s")
    assert short["met"] is None and short["value"] == 900.0
    target = by_figure(rows, "webhook → agent mail (pipeline)", "p99 at 500/s for 60 s")
    # a good p99 over the delivered mails does not count while 1,000 never arrived
    assert target["value"] is None and target["met"] is False
    assert "1000 not delivered" in target["note"]
    assert "load generator behind schedule p99 35.0 ms" in target["note"]

    pipeline = run_results()["pipeline"]
    pipeline["runs"][1]["seconds"] = 10.0
    rows, _ = table_of(run_results(pipeline=pipeline))
    assert (
        by_figure(rows, "webhook → agent mail (pipeline)", "p99 at 500/s for 10 s")["met"] is None
    )


def test_backlog_recovery_verdicts() -> None:
    rows, _ = table_of(run_results())
    assert by_figure(rows, "backlog recovery", "100,000 interactions")["met"] is True
    unfinished = {
        "interactions": 100_000,
        "routed": 40_000,
        "recovered": False,
        "recovery_s": None,
        "budget_s": 300.0,
        "notifier_lag_at_end": None,
    }
    rows, _ = table_of(run_results(backlog_recovery=unfinished))
    recovery = by_figure(rows, "backlog recovery", "100,000 interactions")
    assert recovery["met"] is False
    assert "40000/100000 routed" in recovery["note"]
    assert "not recovered within the 300 s budget" in recovery["note"]


def test_peak_memory_per_service_and_run_against_150_mb() -> None:
    rows, extra = table_of(run_results())
    assert extra["peak_rss_mb"] == {
        "router": {"pipeline": 120.0, "backlog_recovery": 160.0},
        "notifier": {"pipeline": 90.0, "backlog_recovery": 100.0},
    }
    assert by_figure(rows, "memory", "router peak RSS (pipeline)")["met"] is True
    assert by_figure(rows, "memory", "router peak RSS (backlog_recovery)")["met"] is False


def test_steps_that_did_not_run_give_empty_figures_not_errors() -> None:
    rows, extra = figures({"kafka_ceiling": {"status": "timeout", "result": None}})
    assert all(r["met"] is None for r in rows)
    assert not [r for r in rows if r["path"] == "backlog recovery"]
    assert extra["peak_rss_mb"] == {}


def test_each_worker_count_against_its_own_http_ceiling() -> None:
    def measured(acked: float, p99: float) -> dict[str, Any]:
        return {
            "throughput": {"acked_per_s": acked},
            "fixed_rate": {
                "target_rate": 2000,
                "acked_per_s": 1990,
                "latency_2xx": {"p99_ms": p99},
            },
        }

    one, two = measured(2000.0, 60.0), measured(3600.0, 30.0)
    chat = {
        **one,
        "provider": "webchat",
        "concurrency": 64,
        "workers": 1,
        "http_ceiling": measured(8000.0, 5.0),
        "by_workers": {
            "1": {"workers": 1, "service": one, "ceiling": measured(8000.0, 5.0)},
            "2": {"workers": 2, "service": two, "ceiling": measured(12_000.0, 4.0)},
        },
    }
    rows, _ = table_of(run_results(webhook_chat=chat))
    path = "chat webhook → Kafka-acked 2xx"
    single = by_figure(rows, path, "throughput (webchat, 64 in flight, 1 worker)")
    assert single["ceiling_pct"] == 25.0 and single["met"] is False
    double = by_figure(rows, path, "throughput (webchat, 64 in flight, 2 workers)")
    assert double["ceiling_pct"] == 30.0
    assert double["ceiling"] == "bare ASGI HTTP (chat POSTs, 2 workers) 12,000 req/s"
    assert by_figure(rows, path, "p99 at 2,000/s offered (1,990/s acked, 2 workers)")["met"]


CPU_100 = {
    "wall_s": 11.0,
    "messages": 1000,
    "cpus": 2,
    "machine": {"cpu_s": 15.0, "cpu_s_per_1000": 15.0, "share_of_cores_pct": 68.2},
    "processes": {
        "notifier": {"cpu_s": 6.0, "cpu_s_per_1000": 6.0, "share_of_cores_pct": 27.3},
        "router": {"cpu_s": 5.0, "cpu_s_per_1000": 5.0, "share_of_cores_pct": 22.7},
        "load generator (vegeta)": {
            "cpu_s": 0.2,
            "cpu_s_per_1000": 0.2,
            "share_of_cores_pct": 0.9,
        },
        "other": {"cpu_s": 3.8, "cpu_s_per_1000": 3.8, "share_of_cores_pct": 17.3},
    },
}


def accounted_results() -> dict[str, dict[str, Any]]:
    """A run with the per-process CPU, the generator named and the backlog's phases."""
    results = run_results()
    results["pipeline"]["runs"][0] |= {"generator": "vegeta", "cpu": CPU_100}
    results["pipeline"]["idle_cpu"] = {
        "wall_s": 5.0,
        "messages": 0,
        "machine": {"cpu_s": 1.0, "cpu_s_per_1000": None, "share_of_cores_pct": 10.0},
        "processes": {"router": {"cpu_s": 0.5, "cpu_s_per_1000": None, "share_of_cores_pct": 5.0}},
    }
    results["router_throughput"]["runs"][0]["latency"][0]["drained_after_s"] = 2.5
    results["backlog_recovery"] |= {
        "mails_received": 140_000,
        "notified_after_s": 50.0,
        "routed_per_s": 5000.0,
        "notices_per_s": 2800.0,
        "cpu": {"until_all_routed": CPU_100, "start_up": CPU_100 | {"messages": 0}},
        "series": [
            {"t_s": t, "routed": t * 5000, "mails": t * 2800, "router_rss_mb": 120.0 + t}
            for t in range(51)
        ],
    }
    return results


def test_cpu_shares_per_pipeline_rate_and_backlog_phase() -> None:
    _, extra = table_of(accounted_results())
    shares = extra["cpu_shares"]
    assert list(shares) == [
        "pipeline idle",
        "pipeline 100/s (vegeta)",
        "backlog: start-up",
        "backlog: until all routed",
    ]  # the 500/s run had no accounting: left out, not invented
    assert shares["pipeline 100/s (vegeta)"]["processes"]["notifier"]["cpu_s_per_1000"] == 6.0
    _, plain = table_of(run_results())
    assert plain["cpu_shares"] == {}


def test_backlog_phases_are_rows_of_their_own() -> None:
    rows, _ = table_of(accounted_results())
    routed = by_figure(rows, "backlog recovery", "router start → all routed")
    assert (routed["value"], routed["unit"], routed["target"]) == (20.0, "s", "")
    rate = by_figure(rows, "backlog recovery", "decisions per second")
    assert rate["ceiling_pct"] == 62.5  # of the SQLite store ceiling (8,000/s)
    notices = by_figure(rows, "backlog recovery", "notices per second")
    assert notices["ceiling_pct"] == 140.0  # of the SMTP pool alone (2,000/s)
    assert by_figure(rows, "backlog recovery", "router start → last notice sent")["value"] == 50
    # an older result without the phases keeps its two rows
    rows, _ = table_of(run_results())
    assert [r["figure"] for r in rows if r["path"] == "backlog recovery"] == [
        "100,000 interactions: router start → all routed and notified",
        "routed and notified per second",
    ]


def test_notes_name_the_generator_and_the_drain_before_a_latency_phase() -> None:
    rows, _ = table_of(accounted_results())
    pipeline = by_figure(rows, "webhook → agent mail (pipeline)", "p99 at 100/s")
    assert "load generator (vegeta) behind schedule" not in pipeline["note"]  # no lag given
    router = by_figure(rows, "interactions → decisions (sqlite)", "p99 at 1,000/s")
    assert router["note"] == "5/5 decided; started after 2.5 s of draining"
    results = accounted_results()
    results["pipeline"]["runs"][0]["generator_lag"] = {"p99_ms": 1.5}
    rows, _ = table_of(results)
    pipeline = by_figure(rows, "webhook → agent mail (pipeline)", "p99 at 100/s")
    assert "load generator (vegeta) behind schedule p99 1.5 ms" in pipeline["note"]


def test_refused_or_unsent_posts_miss_the_sustained_target() -> None:
    """A run whose delivered mails were fast but whose webhook answered 503 to some POSTs
    (or whose generator never sent them) did not sustain 500/s."""
    results = run_results()
    results["pipeline"]["runs"][1] |= {
        "acked_2xx": 20_000,
        "delivered": 20_000,
        "not_delivered_within_drain": 0,
        "statuses": {"202": 20_000, "503": 10_000},
    }
    rows, _ = table_of(results)
    p99 = by_figure(rows, "webhook → agent mail (pipeline)", "p99 at 500/s for 60 s")
    assert p99["value"] == 400.0
    assert p99["met"] is False
    assert "10000 of 30000 not acknowledged 2xx" in p99["note"]


def test_the_note_says_what_the_generator_saw_for_unanswered_posts() -> None:
    results = run_results()
    results["pipeline"]["runs"][1] |= {
        "acked_2xx": 29_999,
        "delivered": 29_999,
        "not_delivered_within_drain": 0,
        "statuses": {"202": 29_999, "error": 1, "not_sent": 0},
        "errors": {"read: connection reset by peer": 1},
    }
    rows, _ = table_of(results)
    p99 = by_figure(rows, "webhook → agent mail (pipeline)", "p99 at 500/s for 60 s")
    assert p99["met"] is False
    assert (
        "1 of 30000 not acknowledged 2xx (1 times: read: connection reset by peer)" in (p99["note"])
    )


def test_router_throughput_row_names_the_cpu_per_1000_decisions_when_measured():
    cpu = {
        "machine": {"cpu_s": 20.0, "cpu_s_per_1000": 0.5, "share_of_cores_pct": 93.4},
        "processes": {
            "router": {"cpu_s": 13.0, "cpu_s_per_1000": 0.325, "share_of_cores_pct": 60.0},
            "kafka broker": {"cpu_s": 2.0, "cpu_s_per_1000": 0.05, "share_of_cores_pct": 9.0},
            "bench": {"cpu_s": 1.0, "cpu_s_per_1000": 0.025, "share_of_cores_pct": 4.0},
        },
    }
    run = {
        "store": "sqlite",
        "throughput": {"interactions": 40, "decided": 40, "interactions_per_s": 4000.0},
    }
    measured = router_rows({"runs": [{**run, "throughput": {**run["throughput"], "cpu": cpu}}]}, {})
    before = router_rows({"runs": [run]}, {})
    assert measured[0]["note"] == (
        "40/40 decided within the budget; CPU-s per 1,000 decisions: router 0.33, "
        "kafka broker 0.05; machine 93.4 % busy"
    )
    assert before[0]["note"] == "40/40 decided within the budget"


def test_router_latency_rows_read_against_the_stores_paced_commit_and_name_the_run_on():
    store = {"runs": {"sqlite": {"interactions_per_s": 8000.0, "paced_commits": {"p99_ms": 25.0}}}}
    found = ceilings({"store_ceiling": store})
    phase = {
        "rate_per_s": 1000,
        "p99_ms": 120.0,
        "decided": 5,
        "published": 5,
        "after_window": {"p99_ms": 140.0},
    }
    (_, latency) = router_rows({"runs": [{"store": "sqlite", "latency": [phase]}]}, found)
    assert latency["ceiling"] == (
        "SQLite store, a 1,000/s poll's rows committed every 27 ms, p99 25.0 ms"
    )
    assert latency["ceiling_pct"] == 480.0
    assert latency["note"].endswith(
        "the stream's run-on after the window (not counted): p99 140 ms"
    )
    assert "store_commit_postgresql" not in found  # a store ceiling run without paced commits

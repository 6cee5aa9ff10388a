"""What the benchmarks send and write: pipeline rates, the backlog mix, the store's rows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.backlog_recovery import (
    Mix,
    backlog_events,
    backlog_interaction,
    phase_rates,
    recovery_seconds,
)
from bench.pipeline import (
    bench_topics,
    effective_settings,
    parse_rates,
    vegeta_outcome,
    vegeta_time,
)
from bench.store_ceiling import TABLES, batches, interaction_rows
from libs.common.events.interaction import Channel
from libs.common.settings import KafkaSettings
from tools.testing.system import LocalSystem

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_pipeline_rates_with_their_own_duration() -> None:
    assert parse_rates("25,100,500:60", 10) == [(25, 10), (100, 10), (500, 60)]
    assert parse_rates(" 500:60 ,", 10) == [(500, 60)]
    for bad in ("", "fast", "500:0", "-5", "500:x"):
        with pytest.raises(ValueError):
            parse_rates(bad, 10)


def test_backlog_mix_has_repeat_customers_threads_and_both_channels() -> None:
    mix = Mix(1000)
    assert mix.customers == 600
    interactions = [backlog_interaction(mix, "r1", n, NOW) for n in range(mix.count)]
    keys = [i.customer_key for i in interactions]
    assert len(set(keys)) == 600  # 400 interactions come from repeat customers
    channels = {i.channel for i in interactions}
    assert channels == {Channel.EMAIL, Channel.CHAT}
    repeats = range(mix.customers, mix.count)
    follow_ups = [n for n in repeats if mix.follow_up(n)]
    assert 150 <= len(follow_ups) <= 250  # about half continue their thread
    for n in follow_ups:
        first = interactions[n - mix.customers]
        again = interactions[n]
        assert again.customer_key == first.customer_key
        if again.channel is Channel.EMAIL:
            assert again.thread.in_reply_to == [first.thread.message_id]
        else:
            assert again.thread.provider_thread_id == first.thread.provider_thread_id
    new_threads = [n for n in repeats if not mix.follow_up(n)]
    chat = [n for n in new_threads if interactions[n].channel is Channel.CHAT]
    assert all(
        interactions[n].thread.provider_thread_id
        != interactions[n - mix.customers].thread.provider_thread_id
        for n in chat
    )


def test_backlog_events_have_unique_ids_and_customer_keys() -> None:
    events = list(backlog_events(Mix(50), "r2"))
    assert len({event.id for event, _ in events}) == 50
    assert all(key == event.data.customer_key for event, key in events)


def test_recovery_counts_from_the_router_start_to_the_later_of_routing_and_mail() -> None:
    assert recovery_seconds(100.0, 130.0, 155.5) == 55.5
    assert recovery_seconds(100.0, 130.0, 0.0) == 30.0  # no mail at all


def test_store_rows_are_the_router_tables_columns_of_a_new_conversation() -> None:
    rows = interaction_rows("r3", 7, NOW)
    assert set(rows) == {table.name for table in TABLES}
    assert sum(len(r) for r in rows.values()) == 12
    for table in TABLES:
        for values in rows[table.name]:
            assert set(values) <= set(table.c.keys()), table.name
    conversation = rows["conversations"][0]
    assert len(conversation["reference"]) <= 20
    assert rows["interactions"][0]["conversation_id"] == conversation["id"]
    assert {r["conversation_id"] for r in rows["outbox"]} == {conversation["id"]}
    assert rows["contact_identities"][0]["contact_id"] == rows["contacts"][0]["id"]


def test_store_batches_group_rows_per_table() -> None:
    grouped = list(batches("r4", 1200, 500))
    assert [len(g["conversations"]) for g in grouped] == [500, 500, 200]
    assert len({r["id"] for g in grouped for r in g["conversations"]}) == 1200
    assert len({r["value"] for g in grouped for r in g["contact_identities"]}) == 1200


def test_vegeta_results_become_due_times_of_the_requests_they_carry() -> None:
    """The n-th hit with a target is request n; due = the pacer's start + n/rate; only
    2xx count as sent; requests without a hit were not sent."""
    no_targets = {"code": 0, "error": "no targets to attack"}
    results = [
        {"seq": 1, "code": 202, "timestamp": "2026-11-28T14:00:00.0150002Z"},  # 5 ms late
        {"seq": 0, "code": 202, "timestamp": "2026-11-28T14:00:00.000000000Z"},
        {"seq": 2, "timestamp": "2026-11-28T14:00:00.02Z"} | no_targets,  # a worker found none
        {"seq": 3, "code": 503, "timestamp": "2026-11-28T14:00:00.02Z"},
        {"seq": 4, "code": 0, "timestamp": "2026-11-28T14:00:00.03Z", "error": "refused"},
        {"seq": 5, "timestamp": "2026-11-28T14:00:00.04Z"} | no_targets,
    ]
    outcome = vegeta_outcome(results, first=1_000_000, count=5, rate=100)
    start = vegeta_time("2026-11-28T14:00:00Z")
    assert outcome["sent"] == {"1000000": start, "1000001": pytest.approx(start + 0.01)}
    assert outcome["statuses"] == {"202": 2, "503": 1, "error": 1, "not_sent": 1}
    assert outcome["errors"] == {"refused": 1}  # what vegeta saw, kept for the report
    assert outcome["generator_lag"]["max_ms"] == pytest.approx(5.0, abs=0.01)
    assert vegeta_outcome([], first=0, count=3, rate=10)["statuses"] == {"not_sent": 3}


def test_backlog_phase_rates_from_the_router_start() -> None:
    assert phase_rates(100_000, 140_000, 50.0, 70.0) == {
        "routed_per_s": 2000.0,
        "notices_per_s": 2000.0,
    }
    assert phase_rates(10, 0, None, None) == {"routed_per_s": None, "notices_per_s": None}


def test_the_pipeline_reports_the_settings_its_services_run_with(tmp_path: Path) -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1", topics=bench_topics())
    assert kafka.topics.assistant.endswith(".assistant")
    assert kafka.topics.assistant.startswith(kafka.topics.interactions.split(".")[0])
    system = LocalSystem(
        home=tmp_path,
        kafka=kafka,
        smtp_port=2525,
        extra_env={"router": {"ROUTER_CONSUMER_MAX_BATCH": "200"}},
    )
    found = effective_settings(system)
    assert found["router"]["consumer_max_batch"] == "200"  # the bench's environment
    assert found["chat_ingest"]["workers"] == 1  # the service's default
    assert found["chat_ingest"]["publish_linger_ms"] == 20
    assert isinstance(found["notifier"]["smtp_pool_size"], int)


def test_the_pipeline_reports_the_kafka_waits_its_services_inherit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", "35")  # the services inherit it
    monkeypatch.delenv("KAFKA_LINGER_MS", raising=False)
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1", topics=bench_topics())
    system = LocalSystem(home=tmp_path, kafka=kafka, smtp_port=2525)
    found = effective_settings(system)["kafka (all services)"]
    assert found == {
        "fetch_max_wait_ms": "35",
        "fetch_min_bytes": KafkaSettings.model_fields["fetch_min_bytes"].default,
        "linger_ms": 2,
    }


def test_the_pipeline_reports_the_service_settings_its_services_inherit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a run such as ROUTER_CONSUMER_FETCH_MAX_WAIT_MS=200 python -m bench.pipeline: the
    # services inherit it (LocalSystem spawns them with this process's environment)
    monkeypatch.setenv("ROUTER_CONSUMER_FETCH_MAX_WAIT_MS", "200")
    monkeypatch.setenv("ROUTER_CONSUMER_MAX_BATCH", "300")  # the bench's own value wins
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1", topics=bench_topics())
    system = LocalSystem(
        home=tmp_path,
        kafka=kafka,
        smtp_port=2525,
        extra_env={"router": {"ROUTER_CONSUMER_MAX_BATCH": "200"}},
    )
    found = effective_settings(system)["router"]
    assert found["consumer_fetch_max_wait_ms"] == "200"
    assert found["consumer_max_batch"] == "200"

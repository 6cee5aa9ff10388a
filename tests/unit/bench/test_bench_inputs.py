"""What the benchmarks send and write: pipeline rates, the backlog mix, the store's rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bench.backlog_recovery import Mix, backlog_events, backlog_interaction, recovery_seconds
from bench.pipeline import parse_rates
from bench.store_ceiling import TABLES, batches, interaction_rows
from libs.common.events.interaction import Channel

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

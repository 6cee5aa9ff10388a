"""The interactions consumer fetches ahead at most ``consumer_partition_fetch_kb`` per
partition (aiokafka holds fetched records in memory until they are polled); the
router's other consumers keep aiokafka's default."""

from __future__ import annotations

from pathlib import Path

from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings
from services.router.consumer import build_consumer, build_outcome_consumer
from services.router.settings import RouterSettings


def test_the_interactions_consumer_fetches_ahead_what_the_setting_says(tmp_path: Path):
    settings = RouterSettings(state_dir=tmp_path, consumer_partition_fetch_kb=256)
    kafka = KafkaSettings()
    producer = EventProducer(kafka, client_id="router")
    ctx = object()  # the handlers keep it; nothing is routed here
    interactions = build_consumer(
        kafka,
        ctx,  # type: ignore[arg-type]
        producer,
        group_id="router",
        max_batch=settings.consumer_max_batch,
        partition_fetch_bytes=settings.consumer_partition_fetch_kb * 1024,
    )
    outcomes = build_outcome_consumer(kafka, ctx, producer, group_id="outcomes")  # type: ignore[arg-type]
    assert interactions._fetch_options()["max_partition_fetch_bytes"] == 256 * 1024
    assert "max_partition_fetch_bytes" not in outcomes._fetch_options()

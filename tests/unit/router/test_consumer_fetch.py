"""The interactions consumer fetches ahead at most ``consumer_partition_fetch_kb`` per
partition (aiokafka holds fetched records in memory until they are polled); the
router's other consumers keep aiokafka's default."""

from __future__ import annotations

from pathlib import Path

from libs.common.kafka.consumer import ConsumerRunner
from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings
from services.router.consumer import (
    OUTCOME_FETCH_MAX_WAIT_MS,
    OUTCOME_FETCH_MIN_BYTES,
    UPKEEP_PATIENCE_S,
    build_consumer,
    build_outcome_consumer,
)
from services.router.settings import RouterSettings


def _interactions_consumer(
    kafka: KafkaSettings,
    producer: EventProducer,
    settings: RouterSettings,
    *,
    min_bytes: bool = True,
) -> ConsumerRunner:
    """The interactions consumer with the router's fetch wait (and fill, unless not asked)."""
    return build_consumer(
        kafka,
        object(),  # type: ignore[arg-type]  # the handlers keep it; nothing is routed here
        producer,
        group_id="router",
        max_batch=400,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        fetch_min_bytes=settings.consumer_fetch_min_bytes if min_bytes else None,
    )


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


def test_the_outcome_consumer_fetches_unhurried_and_the_interactions_one_as_shared(
    tmp_path: Path,
):
    kafka = KafkaSettings(fetch_max_wait_ms=20, fetch_min_bytes=65_536)
    producer = EventProducer(kafka, client_id="router")
    ctx = object()
    interactions = build_consumer(kafka, ctx, producer, group_id="router", max_batch=400)  # type: ignore[arg-type]
    outcomes = build_outcome_consumer(kafka, ctx, producer, group_id="outcomes")  # type: ignore[arg-type]
    assert interactions._fetch_options() == {"fetch_min_bytes": 65_536, "fetch_max_wait_ms": 20}
    assert outcomes._fetch_options() == {
        "fetch_min_bytes": OUTCOME_FETCH_MIN_BYTES,
        "fetch_max_wait_ms": OUTCOME_FETCH_MAX_WAIT_MS,
    }
    assert kafka.fetch_max_wait_ms < OUTCOME_FETCH_MAX_WAIT_MS


def test_the_interactions_consumer_waits_for_company_as_the_router_setting_says(
    tmp_path: Path,
):
    kafka = KafkaSettings(fetch_max_wait_ms=20, fetch_min_bytes=65_536)
    producer = EventProducer(kafka, client_id="router")
    for settings, expected in (
        (RouterSettings(state_dir=tmp_path), 100),  # the default: longer than the shared 20
        (RouterSettings(state_dir=tmp_path, consumer_fetch_max_wait_ms=0), 0),
    ):
        interactions = _interactions_consumer(kafka, producer, settings, min_bytes=False)
        assert interactions._fetch_options() == {
            "fetch_min_bytes": 65_536,
            "fetch_max_wait_ms": expected,
        }


def test_the_interactions_consumer_fills_its_fetch_as_the_router_setting_says(tmp_path: Path):
    kafka = KafkaSettings(fetch_max_wait_ms=20, fetch_min_bytes=65_536)
    producer = EventProducer(kafka, client_id="router")
    default = RouterSettings(state_dir=tmp_path)
    # less than the shared 64 KB: the wait shrinks from ~500/s, not ~1,000/s (the setting's
    # description); at 25-100/s the max wait still ends every fetch first
    assert default.consumer_fetch_min_bytes < kafka.fetch_min_bytes
    for settings in (default, RouterSettings(state_dir=tmp_path, consumer_fetch_min_bytes=1)):
        interactions = _interactions_consumer(kafka, producer, settings)
        assert interactions._fetch_options() == {
            "fetch_min_bytes": settings.consumer_fetch_min_bytes,
            "fetch_max_wait_ms": settings.consumer_fetch_max_wait_ms,
        }


def test_the_interactions_consumer_puts_its_upkeep_off_for_a_second_at_most(tmp_path: Path):
    kafka = KafkaSettings()
    producer = EventProducer(kafka, client_id="router")
    interactions = _interactions_consumer(kafka, producer, RouterSettings(state_dir=tmp_path))
    # while the next poll's records are fetched (libs.common.kafka.consumer.between_polls_due)
    assert interactions._between_polls_patience == UPKEEP_PATIENCE_S == 1.0

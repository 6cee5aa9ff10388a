"""The routing topic's consumer waits for a fuller fetch as NOTIFIER_CONSUMER_FETCH_MAX_WAIT_MS
says, in place of the shared KAFKA_FETCH_MAX_WAIT_MS (each poll costs the notifier its
sent-log trips and an outcome produce whatever it holds)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings
from services.notifier.bootstrap import build_runner
from services.notifier.settings import NotifierSettings


@pytest.mark.parametrize(
    ("environment", "expected"), [({}, 100), ({"0": 0}, 0), ({"120": 120}, 120)]
)
def test_the_routing_consumer_waits_as_the_notifier_setting_says(
    monkeypatch, environment, expected
):
    for value in environment:
        monkeypatch.setenv("NOTIFIER_CONSUMER_FETCH_MAX_WAIT_MS", value)
    kafka = KafkaSettings(fetch_max_wait_ms=20, fetch_min_bytes=65_536)
    settings = NotifierSettings(kafka=kafka)
    producer = EventProducer(kafka, client_id="notifier")
    handler = SimpleNamespace(handle_batch=None)  # kept by reference; nothing is consumed
    runner = build_runner(settings, handler, producer)  # type: ignore[arg-type]
    assert runner._fetch_options() == {"fetch_min_bytes": 262_144, "fetch_max_wait_ms": expected}


@pytest.mark.parametrize(("environment", "expected"), [({}, 262_144), ({"65536": 65_536}, 65_536)])
def test_the_routing_consumer_fills_its_fetch_as_the_notifier_setting_says(
    monkeypatch, environment, expected
):
    """Unset: 256 KiB, four times the shared KAFKA_FETCH_MIN_BYTES (fewer, fuller polls)."""
    for value in environment:
        monkeypatch.setenv("NOTIFIER_CONSUMER_FETCH_MIN_BYTES", value)
    kafka = KafkaSettings(fetch_max_wait_ms=20, fetch_min_bytes=65_536)
    settings = NotifierSettings(kafka=kafka)
    producer = EventProducer(kafka, client_id="notifier")
    handler = SimpleNamespace(handle_batch=None)
    runner = build_runner(settings, handler, producer)  # type: ignore[arg-type]
    assert runner._fetch_options() == {"fetch_min_bytes": expected, "fetch_max_wait_ms": 100}


def test_a_fetch_that_waits_for_nothing_is_refused(monkeypatch):
    monkeypatch.setenv("NOTIFIER_CONSUMER_FETCH_MIN_BYTES", "0")
    with pytest.raises(ValueError, match="consumer_fetch_min_bytes"):
        NotifierSettings()

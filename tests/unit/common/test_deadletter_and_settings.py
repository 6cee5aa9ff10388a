from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from libs.common.events.deadletter import DeadLetter, strip_dead_letter_headers
from libs.common.settings import KafkaSettings, ServiceSettings


def test_dead_letter_headers_round_trip_and_strip():
    letter = DeadLetter(
        stage="router.handle",
        error_type="ValueError",
        error="boom",
        attempts=3,
        failed_at=datetime(2026, 1, 1, tzinfo=UTC),
        original_topic="t",
        original_partition=2,
        original_offset=41,
    )
    original = [("ce_id", b"e1")]
    headers = original + letter.to_headers()
    assert DeadLetter.from_headers(headers) == letter
    assert strip_dead_letter_headers(headers) == original


def test_kafka_settings_from_env(monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", " a:1 , b:2 ")
    monkeypatch.setenv("KAFKA_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "hunter2")
    settings = KafkaSettings()
    assert settings.bootstrap_servers == "a:1,b:2"
    assert settings.topics.partitions == 12
    assert "hunter2" not in repr(settings)


def test_sasl_ssl_options_are_passed_through():
    settings = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u",
        sasl_password="p",
    )
    options = settings.client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_password"] == "p"
    assert options["ssl_context"] is not None


def test_settings_refuse_nonsense():
    with pytest.raises(ValidationError):
        KafkaSettings(bootstrap_servers=" , ")
    with pytest.raises(ValidationError):
        ServiceSettings(log_level="chatty")

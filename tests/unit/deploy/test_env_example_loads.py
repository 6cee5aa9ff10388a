"""`deploy/.env.example` copied as is to `deploy/.env` configures every service.

Compose hands each `NAME=value` line to the containers; empty values (`NAME=`)
must mean "unset", not an empty string that fails int/bool/secret parsing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from libs.common.settings import PERSONAL_DATA_RETENTION_MS, KafkaSettings, TopicSettings
from tools.config_reference import settings_classes

ENV_EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / ".env.example"


def env_file_values(text: str) -> dict[str, str]:
    """`NAME=value` lines as compose reads them (single quotes are literal)."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        values[name] = value
    return values


@pytest.fixture
def env_example(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = env_file_values(ENV_EXAMPLE.read_text())
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_the_example_names_empty_values(env_example):
    # The case this file guards: the documented copy has empty int and secret values.
    assert env_example["KAFKA_TOPIC_MIN_INSYNC_REPLICAS"] == ""
    assert env_example["ROUTER_CSAT_SECRET"] == ""


@pytest.mark.parametrize("cls", [cls for _, cls in settings_classes()], ids=lambda c: c.__name__)
def test_every_settings_class_loads_from_the_example(env_example, cls):
    cls()


def test_empty_values_fall_back_to_the_defaults(env_example):
    topics = TopicSettings()
    assert topics.min_insync_replicas is None
    assert topics.retention_ms == PERSONAL_DATA_RETENTION_MS
    assert KafkaSettings().sasl_mechanism is None


def test_a_set_value_still_wins_and_bad_values_are_still_refused(monkeypatch):
    monkeypatch.setenv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", "2")
    assert TopicSettings().min_insync_replicas == 2
    monkeypatch.setenv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", "two")
    with pytest.raises(ValidationError, match="min_insync_replicas"):
        TopicSettings()

"""WebhookEventProducer: the webhook services' own linger replaces KAFKA_LINGER_MS."""

from __future__ import annotations

import pytest

from libs.common.settings import KafkaSettings
from libs.common.webhooks.producer import WebhookEventProducer
from services.chat_ingest.settings import ChatIngestSettings


def test_a_given_linger_replaces_the_kafka_setting_and_leaves_it_alone() -> None:
    kafka = KafkaSettings(linger_ms=2)
    producer = WebhookEventProducer(kafka, client_id="t", linger_ms=7)
    assert producer.linger_ms == 7
    assert kafka.linger_ms == 2  # the service's settings are not changed under it


def test_without_a_linger_the_kafka_setting_holds() -> None:
    producer = WebhookEventProducer(KafkaSettings(linger_ms=3), client_id="t")
    assert producer.linger_ms == 3


def test_chat_ingest_lingers_5_ms_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ChatIngestSettings().publish_linger_ms == 20
    monkeypatch.setenv("CHAT_INGEST_PUBLISH_LINGER_MS", "0")
    assert ChatIngestSettings().publish_linger_ms == 0
    monkeypatch.setenv("CHAT_INGEST_PUBLISH_LINGER_MS", "1000")
    with pytest.raises(ValueError, match="publish_linger_ms"):
        ChatIngestSettings()


def test_a_given_send_timeout_replaces_the_kafka_setting() -> None:
    kafka = KafkaSettings(send_timeout_s=10)
    assert WebhookEventProducer(kafka, client_id="t", send_timeout_s=2.5).send_timeout_s == 2.5
    assert WebhookEventProducer(kafka, client_id="t").send_timeout_s == 10
    assert kafka.send_timeout_s == 10

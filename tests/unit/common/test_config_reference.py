from __future__ import annotations

from libs.common.settings import KafkaSettings
from tools.config_reference import document, env_example, markdown


def test_every_kafka_setting_is_documented_and_secrets_are_blank():
    docs = {d.env: d for d in document(KafkaSettings)}
    assert docs["KAFKA_BOOTSTRAP_SERVERS"].default == "127.0.0.1:9092"
    assert docs["KAFKA_SASL_PASSWORD"].secret
    assert all(d.description for d in docs.values())
    assert "KAFKA_SASL_PASSWORD=\n" in env_example()


def test_markdown_lists_shared_and_topic_settings():
    text = markdown()
    assert "| `KAFKA_TOPIC_INTERACTIONS` | `support.interactions.v1` |" in text

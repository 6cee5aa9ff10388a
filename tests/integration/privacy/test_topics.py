"""`omnidesk topics create` on a real broker: the privacy topic is compacted, the
others expire (their records hold personal data) and roll daily."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

pytestmark = pytest.mark.integration


async def _described(settings, names: list[str]) -> dict[str, dict[str, str]]:
    admin = AIOKafkaAdminClient(**settings.client_options())
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    return {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}
        for response in responses
        for resource in response.resources
    }


async def test_topic_configs_as_the_broker_holds_them(kafka_topics):
    topics = kafka_topics.topics
    names = [topics.privacy, topics.interactions, topics.deadletter]
    # A just-created topic's configs can reach the answering broker a moment later
    # (seen under load in CI): ask again, boundedly, until every topic has them.
    for _ in range(40):
        configs = await _described(kafka_topics, names)
        if all("cleanup.policy" in configs.get(name, {}) for name in names):
            break
        await asyncio.sleep(0.25)
    assert configs[topics.privacy]["cleanup.policy"] == "compact"
    for name in (topics.interactions, topics.deadletter):
        assert configs[name]["cleanup.policy"] == "delete"
        assert configs[name]["retention.ms"] == str(7 * 24 * 3600 * 1000)
        assert configs[name]["segment.ms"] == str(24 * 3600 * 1000)

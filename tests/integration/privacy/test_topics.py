"""`omnidesk topics create` on a real broker: the privacy topic is compacted, the
others expire (their records hold personal data) and roll daily."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

pytestmark = pytest.mark.integration


async def test_topic_configs_as_the_broker_holds_them(kafka_topics):
    topics = kafka_topics.topics
    admin = AIOKafkaAdminClient(**kafka_topics.client_options())
    await admin.start()
    try:
        names = [topics.privacy, topics.interactions, topics.deadletter]
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        )
    finally:
        await admin.close()
    configs = {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}
        for response in responses
        for resource in response.resources
    }
    assert configs[topics.privacy]["cleanup.policy"] == "compact"
    for name in (topics.interactions, topics.deadletter):
        assert configs[name]["cleanup.policy"] == "delete"
        assert configs[name]["retention.ms"] == str(7 * 24 * 3600 * 1000)
        assert configs[name]["segment.ms"] == str(24 * 3600 * 1000)

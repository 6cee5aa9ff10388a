"""The project's own broker: cached jars reused, data kept across restarts,
and the development disk limits (``DEV_RETENTION``) applied by the broker.

Runs a second broker in a private home on other ports, so the session's
shared broker is untouched.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tools.local_broker import DEV_RETENTION, LocalKafka
from tools.testing.system import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_restart_reuses_cached_jars_and_keeps_data(tmp_path, kafka_broker):
    broker = LocalKafka(home=tmp_path, port=free_port(), controller_port=free_port(), heap="384m")
    marker = broker.lib_dir / ".complete"
    try:
        await asyncio.to_thread(broker.start)
        assert marker.exists()  # fetched once (or reused from an earlier run)
        fetched_at = marker.stat().st_mtime
        assert (broker.data_dir / "meta.properties").exists()
        await _write(broker.bootstrap_servers, "kept", b"survives a restart")

        assert await asyncio.to_thread(broker.stop)
        assert not broker.running()
        # As an older checkout left it: no disk limits. The next start writes them again.
        (broker.state_dir / "server.properties").write_text("node.id=1\n")
        await asyncio.to_thread(broker.start)

        assert marker.stat().st_mtime == fetched_at  # jars not fetched again
        assert await _read_one(broker.bootstrap_servers, "kept") == b"survives a restart"
        broker_configs = await _configs(broker.bootstrap_servers, ConfigResourceType.BROKER, "1")
        assert {key: broker_configs[key] for key in DEV_RETENTION} == DEV_RETENTION
        # A topic without overrides inherits them (in the topic-level names).
        kept = await _configs(broker.bootstrap_servers, ConfigResourceType.TOPIC, "kept")
        assert kept["retention.ms"] == str(24 * 3600 * 1000)
        assert kept["retention.bytes"] == DEV_RETENTION["log.retention.bytes"]
        assert kept["segment.bytes"] == DEV_RETENTION["log.segment.bytes"]
        assert kept["segment.ms"] == DEV_RETENTION["log.roll.ms"]
    finally:
        await asyncio.to_thread(broker.stop)


async def _write(bootstrap: str, topic: str, value: bytes) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def _read_one(bootstrap: str, topic: str) -> bytes:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
        return record.value
    finally:
        await consumer.stop()


async def _configs(bootstrap: str, kind: ConfigResourceType, name: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(kind, name)])
    finally:
        await admin.close()
    [resource] = response.resources
    return {entry[0]: entry[1] for entry in resource[4]}

"""Topic administration: an explicit step, never broker auto-create (architecture §2)."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from libs.common.settings import KafkaSettings

log = logging.getLogger(__name__)

#: The dead-letter topic keeps whole original records, which may be large.
DEADLETTER_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
#: Segments roll daily, so expired personal data goes within a day of retention.ms.
SEGMENT_MS = 24 * 3600 * 1000


def topic_specs(settings: KafkaSettings) -> list[NewTopic]:
    topics = settings.topics
    base: dict[str, str] = {}
    if topics.min_insync_replicas:
        base["min.insync.replicas"] = str(topics.min_insync_replicas)
    specs = []
    for name in topics.all_names():
        config = dict(base)
        if name == topics.privacy:
            # The latest erasure per contact is kept for ever: a service restored
            # from a backup, or a new consumer, still learns whom to forget.
            config["cleanup.policy"] = "compact"
        elif topics.retention_ms:
            config["retention.ms"] = str(topics.retention_ms)
            # Retention drops whole closed segments; with the broker's weekly roll a
            # record could outlive retention.ms by up to a week.
            config["segment.ms"] = str(min(topics.retention_ms, SEGMENT_MS))
        if name == topics.deadletter:
            config["max.message.bytes"] = str(DEADLETTER_MAX_MESSAGE_BYTES)
        specs.append(
            NewTopic(
                name=name,
                num_partitions=topics.partitions,
                replication_factor=topics.replication_factor,
                topic_configs=config,
            )
        )
    return specs


async def create_topics(settings: KafkaSettings, names: list[NewTopic] | None = None) -> list[str]:
    """Create the missing topics; returns the names that were created."""
    specs = names if names is not None else topic_specs(settings)
    admin = AIOKafkaAdminClient(**settings.client_options(), client_id="omnidesk-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                log.info("a concurrent admin created some topics first")
        return [spec.name for spec in missing]
    finally:
        await admin.close()


async def delete_topics(settings: KafkaSettings, names: list[str]) -> None:
    """Delete the named topics that exist (test and benchmark clean-up)."""
    admin = AIOKafkaAdminClient(**settings.client_options(), client_id="omnidesk-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [name for name in names if name in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def list_topics(settings: KafkaSettings) -> list[str]:
    admin = AIOKafkaAdminClient(**settings.client_options(), client_id="omnidesk-admin")
    await admin.start()
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


async def kafka_ready(settings: KafkaSettings) -> bool:
    """The cluster answers a metadata request and our topics exist."""
    names = set(await list_topics(settings))
    missing = [t for t in settings.topics.all_names() if t not in names]
    if missing:
        raise RuntimeError(f"topics missing: {', '.join(missing)} (run `omnidesk topics create`)")
    return True

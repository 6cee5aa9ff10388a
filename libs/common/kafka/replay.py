"""Dead-letter inspection and replay.

Replay reads ``support.deadletter.v1`` with its own consumer group, sends each
record's original bytes and headers (without the ``dlq_*`` ones) back to the
topic it came from, and commits. Deterministic event ids make a replayed
record harmless if it had in fact been handled. Records from ingest
quarantine (no original topic) are listed, not replayed: their raw input is
in the blob store and is re-fed by the ingest service's own tools.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from libs.common.events.deadletter import DeadLetter, strip_dead_letter_headers
from libs.common.kafka.producer import EventProducer
from libs.common.kafka.reading import drain, read_all
from libs.common.settings import KafkaSettings

REPLAY_GROUP = "omnidesk-deadletter-replay"


@dataclass(frozen=True)
class LetterView:
    partition: int
    offset: int
    letter: DeadLetter | None  # None: the record lacks readable dlq_* headers
    key: bytes | None


@dataclass
class ReplayReport:
    replayed: int = 0
    skipped: int = 0


def _view(record: ConsumerRecord) -> LetterView:
    try:
        letter: DeadLetter | None = DeadLetter.from_headers(list(record.headers or ()))
    except ValidationError:
        letter = None
    return LetterView(record.partition, record.offset, letter, record.key)


async def list_dead_letters(settings: KafkaSettings, limit: int = 100) -> list[LetterView]:
    records = await read_all(settings, settings.topics.deadletter)
    return [_view(record) for record in records][-limit:]


async def replay_dead_letters(
    settings: KafkaSettings,
    producer: EventProducer,
    *,
    stage: str | None = None,
    dry_run: bool = False,
    group_id: str = REPLAY_GROUP,
) -> ReplayReport:
    """Send dead letters back to their topics; the group's offsets remember progress."""
    consumer = AIOKafkaConsumer(
        settings.topics.deadletter,
        **settings.client_options(),
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    report = ReplayReport()

    async def replay(record: ConsumerRecord) -> None:
        view = _view(record)
        letter = view.letter
        wanted = letter and letter.original_topic and (stage is None or letter.stage == stage)
        if wanted and not dry_run:
            assert letter is not None and letter.original_topic is not None
            await producer.send(
                letter.original_topic,
                record.value,
                key=record.key,
                headers=strip_dead_letter_headers(list(record.headers or ())),
            )
        if wanted:
            report.replayed += 1
        else:
            report.skipped += 1
        if not dry_run:
            tp = TopicPartition(record.topic, record.partition)
            await consumer.commit({tp: record.offset + 1})

    try:
        await drain(consumer, replay, idle_s=2.0)
    finally:
        await consumer.stop()
    return report

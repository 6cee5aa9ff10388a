"""Quarantined webhook bodies: list, show, replay — shared by chat_ingest and phone_log.

A webhook whose signature checked out but whose body could not be read is
kept on the dead-letter topic (:mod:`.quarantine`: stage
``<service>.<provider>``, source ``<service>:<provider>/<integration>``).
Once the parser is fixed, replay re-parses the body with the current code and
publishes what it yields, exactly once: the dead-letter record's id goes into
a small ledger (``<state_dir>/replays.db``) after Kafka acknowledged, so
replaying again publishes nothing. A crash between the two republishes the
same deterministic event ids, which the router skips. The ledger is per
machine: run replays from one place.

An id is ``<partition>-<offset>`` of the dead-letter record.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import ConsumerRecord
from pydantic import ValidationError

from libs.common.cloudevents import CloudEvent
from libs.common.events.deadletter import DeadLetter
from libs.common.kafka.reading import read_all
from libs.common.settings import KafkaSettings


@dataclass(frozen=True, slots=True)
class QuarantinedWebhook:
    id: str
    provider: str
    integration_id: str
    error: str
    failed_at: datetime
    content_type: str
    body: bytes


def _quarantined(record: ConsumerRecord, service: str) -> QuarantinedWebhook | None:
    headers = list(record.headers or ())
    try:
        letter = DeadLetter.from_headers(headers)
    except ValidationError:
        return None
    prefix = f"{service}."
    if not letter.stage.startswith(prefix) or not letter.source:
        return None
    content_type = dict(headers).get("content-type", b"application/octet-stream").decode()
    return QuarantinedWebhook(
        id=f"{record.partition}-{record.offset}",
        provider=letter.stage.removeprefix(prefix),
        integration_id=letter.source.partition("/")[2],
        error=letter.error,
        failed_at=letter.failed_at,
        content_type=content_type,
        body=record.value or b"",
    )


async def list_quarantined(kafka: KafkaSettings, service: str) -> list[QuarantinedWebhook]:
    records = await read_all(kafka, kafka.topics.deadletter)
    return [item for record in records if (item := _quarantined(record, service)) is not None]


async def find_quarantined(
    kafka: KafkaSettings, service: str, quarantine_id: str
) -> QuarantinedWebhook:
    for item in await list_quarantined(kafka, service):
        if item.id == quarantine_id:
            return item
    raise KeyError(f"no quarantined {service} webhook {quarantine_id} on {kafka.topics.deadletter}")


class ReplayLedger:
    """Which quarantined webhooks were replayed (SQLite; calls run off the loop)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self._path)
        connection.execute(
            "CREATE TABLE IF NOT EXISTS replayed (id TEXT PRIMARY KEY, events INTEGER NOT NULL,"
            " replayed_at TEXT NOT NULL)"
        )
        return connection

    def _get(self, quarantine_id: str) -> str | None:
        with contextlib.closing(self._connect()) as connection:
            row = connection.execute(
                "SELECT replayed_at FROM replayed WHERE id = ?", (quarantine_id,)
            ).fetchone()
        return row[0] if row else None

    def _add(self, quarantine_id: str, events: int) -> None:
        with contextlib.closing(self._connect()) as connection, connection:
            connection.execute(
                "INSERT OR IGNORE INTO replayed VALUES (?, ?, ?)",
                (quarantine_id, events, datetime.now(UTC).isoformat()),
            )

    async def replayed_at(self, quarantine_id: str) -> str | None:
        return await asyncio.to_thread(self._get, quarantine_id)

    async def add(self, quarantine_id: str, events: int) -> None:
        await asyncio.to_thread(self._add, quarantine_id, events)


@dataclass(slots=True)
class ReplayOutcome:
    quarantine_id: str
    published: list[str] = field(default_factory=list)  # event ids
    already: str | None = None  # when it was replayed before


async def replay(
    item: QuarantinedWebhook,
    *,
    parse: Callable[[QuarantinedWebhook], list[CloudEvent]],
    publish: Callable[[CloudEvent], Awaitable[None]],
    ledger: ReplayLedger,
) -> ReplayOutcome:
    """Parse (raises if still unreadable: it stays kept), publish each, then record."""
    outcome = ReplayOutcome(item.id)
    outcome.already = await ledger.replayed_at(item.id)
    if outcome.already is not None:
        return outcome
    events = parse(item)
    for event in events:
        await publish(event)
        outcome.published.append(event.id)
    await ledger.add(item.id, len(events))
    return outcome

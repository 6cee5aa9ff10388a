"""Mail builders, a topic reader and an in-process service runner for the IMAP tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from libs.common.cloudevents import decode
from libs.common.settings import KafkaSettings
from services.email_ingest.bootstrap import run_service
from services.email_ingest.settings import EmailIngestSettings
from tests.helpers.services import running_in_loop
from tools.testing.dovecot import DovecotServer


def make_mail(
    number: int,
    *,
    sender: str = "customer@example.com",
    subject: str | None = None,
    body: str | None = None,
    charset: str = "utf-8",
    message_id: str | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Customer {number} <{sender}>"
    message["To"] = "support@desk.example"
    message["Subject"] = subject or f"Question {number}"
    message["Date"] = format_datetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    message["Message-ID"] = f"<{message_id or f'mail-{number}'}@customer.example>"
    message.set_content(body or f"Hello, this is message {number}.\n", charset=charset)
    return message.as_bytes(policy=SMTP)  # CRLF, as IMAP stores it


def mailbox_config(
    dovecot: DovecotServer, user: str, *, mailbox_id: str | None = None, **overrides: Any
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "id": mailbox_id or user,
        "host": dovecot.host,
        "port": dovecot.imap_port,
        "tls": "plain",
        "username": user,
        "password": dovecot.password(user),
    }
    config.update(overrides)
    return config


def service_settings(
    kafka: KafkaSettings, state_dir: Path, mailboxes: list[dict[str, Any]], **overrides: Any
) -> EmailIngestSettings:
    values: dict[str, Any] = {
        "mailboxes": mailboxes,
        "kafka": kafka,
        "state_dir": state_dir,
        "reconnect_initial_s": 0.2,
        "reconnect_max_s": 1.0,
        "command_timeout_s": 10.0,
        "connect_timeout_s": 10.0,
        "poll_interval_s": 1.0,
    }
    values.update(overrides)
    return EmailIngestSettings(**values)


def running_service(
    settings: EmailIngestSettings,
) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None]]:
    return running_in_loop(run_service, settings)


@dataclass
class TopicReader:
    """Reads a topic from the beginning; ``until`` waits for a condition on all records."""

    kafka: KafkaSettings
    topic: str
    records: list[ConsumerRecord]
    _consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> TopicReader:
        self._consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.kafka.bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=None,
        )
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._consumer is not None
        await self._consumer.stop()

    async def until(
        self, condition: Callable[[list[ConsumerRecord]], bool], limit_s: float = 60.0
    ) -> list[ConsumerRecord]:
        assert self._consumer is not None
        deadline = time.monotonic() + limit_s
        while not condition(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"condition not met within {limit_s}s; have {len(self.records)} records"
                )
            batches = await self._consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                self.records.extend(batch)
        return self.records

    async def settle(self, seconds: float = 1.0) -> list[ConsumerRecord]:
        """Read whatever else arrives for a moment (to prove nothing more comes)."""
        assert self._consumer is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                self.records.extend(batch)
        return self.records


def reader(kafka: KafkaSettings, topic: str) -> TopicReader:
    return TopicReader(kafka, topic, [])


def event_ids(records: list[ConsumerRecord]) -> list[str]:
    return [decode(list(r.headers), r.value).id for r in records]


def count_at_least(n: int) -> Callable[[list[ConsumerRecord]], bool]:
    return lambda records: len(records) >= n


def distinct_ids_at_least(n: int) -> Callable[[list[ConsumerRecord]], bool]:
    return lambda records: len(set(event_ids(records))) >= n

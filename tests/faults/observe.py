"""What the suite watches: every record of the four topics, and a stoppable SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiosmtpd.controller import Controller

from libs.common.cloudevents import CloudEventError, decode
from libs.common.events import Interaction, InteractionRouted, NotificationOutcome, RoutingEvent
from libs.common.settings import KafkaSettings
from services.notifier.decisions import PlanConfig, plan_notifications
from tests.faults.invariants import (
    InteractionSeen,
    MailReceived,
    NoticeExpected,
    Observation,
    OutcomeSeen,
    RoutedSeen,
)


@dataclass
class DeadLetterSeen:
    value: bytes | None
    headers: dict[str, str]
    at: float


@dataclass
class TopicTail:
    """Reads the four topics from the beginning, for as long as the suite runs.

    A consumer without a group: it survives broker restarts (aiokafka
    reconnects) and needs no commits. Undecodable records are kept apart.
    """

    kafka: KafkaSettings
    seen: Observation = field(default_factory=Observation)
    deadletters: list[DeadLetterSeen] = field(default_factory=list)
    undecodable: list[ConsumerRecord] = field(default_factory=list)
    records: int = 0
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task | None = None
    _plan: PlanConfig = field(default_factory=PlanConfig)
    _routing_ids: set[str] = field(default_factory=set)

    async def start(self) -> TopicTail:
        topics = self.kafka.topics
        self._consumer = AIOKafkaConsumer(
            topics.interactions,
            topics.routing,
            topics.notifications,
            topics.deadletter,
            **self.kafka.client_options(),
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=200, max_records=2000)
            except Exception:  # the broker is down for a fault: keep trying
                await asyncio.sleep(0.5)
                continue
            for records in batch.values():
                for record in records:
                    self.records += 1
                    self._take(record)

    def _take(self, record: ConsumerRecord) -> None:
        topics = self.kafka.topics
        at = record.timestamp / 1000
        if record.topic == topics.deadletter:
            headers = {k: v.decode("utf-8", "replace") for k, v in record.headers or []}
            self.deadletters.append(DeadLetterSeen(record.value, headers, at))
            return
        try:
            event = decode(record.headers, record.value)
        except CloudEventError:
            self.undecodable.append(record)
            return
        data = event.data
        if isinstance(data, Interaction):
            pid = data.provider_message_id or ""
            self.seen.interactions.append(InteractionSeen(event.id, data.provider, pid, at))
        elif isinstance(data, InteractionRouted):
            self.seen.routed.append(RoutedSeen(event.id, data.interaction_id, at))
        elif isinstance(data, NotificationOutcome):
            self.seen.outcomes.append(
                OutcomeSeen(
                    event.id,
                    data.routing_event_id,
                    data.recipient,
                    data.template,
                    str(data.status),
                    str(data.channel),
                    data.message_id,
                )
            )
        if isinstance(data, RoutingEvent) and record.topic == topics.routing:
            self._expect_notices(event.id, data, at)

    def _expect_notices(self, event_id: str, data: RoutingEvent, at: float) -> None:
        """The notifier's own (pure) plan says which mails this event calls for."""
        if event_id in self._routing_ids:
            return  # a relay re-publish of the same event
        self._routing_ids.add(event_id)
        for mail in plan_notifications(data, self._plan).mails:
            self.seen.notices.append(NoticeExpected(event_id, mail.recipient, mail.template, at))


class SmtpInbox:
    """An aiosmtpd handler that keeps what it received, with the arrival time."""

    def __init__(self, seen: Observation) -> None:
        self.seen = seen
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        mail = MailReceived(str(message["Message-ID"] or ""), tuple(envelope.rcpt_tos), time.time())
        with self._lock:
            self.seen.mails.append(mail)
        return "250 OK"


class StoppableSmtp:
    """A real SMTP server on a fixed port that can go away and come back."""

    def __init__(self, inbox: SmtpInbox, port: int) -> None:
        self.inbox, self.port = inbox, port
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

"""Plain in-memory fakes of the handler's outside world (unit tests only)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from libs.common.events import NotificationOutcome
from libs.providers.outbound import OutboundMessage, SendOutcome, SendVerdict, Unsendable
from services.notifier.mail import OutgoingMail
from services.notifier.sentlog import (
    FINAL,
    Claim,
    ClaimResult,
    Finish,
    SendInfo,
    SendKey,
    SentRecord,
    Status,
)
from services.notifier.webhooks import WebhookRequest

T0 = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


class MemorySentLog:
    """Same rules as the SQL sent-log, in a dict."""

    def __init__(self, lease_s: float = 60.0) -> None:
        self.rows: dict[SendKey, SentRecord] = {}
        self.slots: dict[str, tuple[str, datetime]] = {}
        self._lease = timedelta(seconds=lease_s)
        self.batches = 0  # calls of the *_many methods

    async def claim(self, key: SendKey, info: SendInfo, *, now: datetime) -> Claim:
        row = self.rows.get(key)
        if row is None:
            self.rows[key] = SentRecord(Status.SENDING, 1, None, None, info.locale, now, now)
            return Claim(ClaimResult.CLAIMED, self.rows[key])
        stale = row.status is Status.SENDING and row.claimed_at <= now - self._lease
        if row.status in (Status.RETRY, Status.FAILED) or stale:
            return Claim(
                ClaimResult.CLAIMED,
                self._set(
                    key, now, status=Status.SENDING, claimed_at=now, attempts=row.attempts + 1
                ),
            )
        done = row.status.value in FINAL
        return Claim(ClaimResult.DONE if done else ClaimResult.BUSY, row)

    def lease_expires_at(self, record: SentRecord) -> datetime | None:
        return record.claimed_at + self._lease if record.claimed_at else None

    async def touch(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord:
        attempts = self.rows[key].attempts + 1
        return self._set(key, now, claimed_at=now, reason=reason, attempts=attempts)

    async def renew_claim(
        self, key: SendKey, *, claimed_at: datetime, now: datetime
    ) -> SentRecord | None:
        row = self.rows.get(key)
        if row is None or row.status is not Status.SENDING or row.claimed_at != claimed_at:
            return None
        return self._set(key, now, claimed_at=now)

    async def mark_sent(self, key: SendKey, *, message_id: str, now: datetime) -> SentRecord:
        return self._set(key, now, status=Status.SENT, message_id=message_id, reason=None)

    async def mark_retry(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord:
        return self._set(key, now, status=Status.RETRY, reason=reason)

    async def mark_failed(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord:
        return self._set(key, now, status=Status.FAILED, reason=reason)

    async def mark_suppressed(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord:
        return self._set(key, now, status=Status.SUPPRESSED, reason=reason)

    async def record_suppressed(
        self, key: SendKey, info: SendInfo, *, reason: str, now: datetime
    ) -> SentRecord:
        self.rows.setdefault(
            key, SentRecord(Status.SUPPRESSED, 0, None, reason, info.locale, None, now)
        )
        return self.rows[key]

    async def take_rate_slot(
        self, sender: str, *, event_id: str, now: datetime, cutoff: datetime | None
    ) -> bool:
        holder = self.slots.get(sender.lower())
        if holder is None or holder[0] == event_id or (cutoff is not None and holder[1] <= cutoff):
            self.slots[sender.lower()] = (
                event_id,
                now if holder is None or holder[0] != event_id else holder[1],
            )
            return True
        return False

    async def take_rate_slots(
        self, requests: list[tuple[str, str]], *, now: datetime, cutoff: datetime | None
    ) -> set[tuple[str, str]]:
        self.batches += 1
        return {
            (sender.lower(), event_id)
            for sender, event_id in requests
            if await self.take_rate_slot(sender, event_id=event_id, now=now, cutoff=cutoff)
        }

    async def claim_many(
        self, jobs: list[tuple[SendKey, SendInfo]], *, now: datetime
    ) -> dict[SendKey, Claim]:
        self.batches += 1
        return {key: await self.claim(key, info, now=now) for key, info in dict(jobs).items()}

    async def finish_many(self, finishes: list[Finish]) -> None:
        self.batches += 1
        for f in finishes:
            self._set(f.key, f.at, status=f.status, message_id=f.message_id, reason=f.reason)

    async def record_suppressed_many(
        self, suppressions: list[tuple[SendKey, SendInfo, str]], *, now: datetime
    ) -> dict[SendKey, SentRecord]:
        self.batches += 1
        return {
            key: await self.record_suppressed(key, info, reason=reason, now=now)
            for key, info, reason in suppressions
        }

    def _set(self, key: SendKey, now: datetime, **values: object) -> SentRecord:
        values.setdefault("claimed_at", None)
        self.rows[key] = self.rows[key]._replace(updated_at=now, **values)
        return self.rows[key]


@dataclass
class ScriptedSmtp:
    """Sends succeed unless ``failures`` names an exception for the next attempt."""

    failures: list[Exception] = field(default_factory=list)
    sent: list[OutgoingMail] = field(default_factory=list)
    attempts: int = 0

    async def send(self, mail: OutgoingMail) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(mail)


@dataclass
class ScriptedWebhooks:
    failures: list[Exception] = field(default_factory=list)
    posted: list[WebhookRequest] = field(default_factory=list)

    async def post(self, request: WebhookRequest) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.posted.append(request)


def _as_validated(outcome: NotificationOutcome) -> NotificationOutcome:
    """The handler builds its usual outcomes without validation (``outcomes.new_outcome``):
    every one published in these tests is the model's own, field for field and byte for byte."""
    fields = {name: getattr(outcome, name) for name in outcome.model_fields_set}
    validated = NotificationOutcome(**fields)
    assert type(outcome) is NotificationOutcome
    assert list(vars(outcome)) == list(NotificationOutcome.model_fields)
    assert vars(outcome) == vars(validated)
    assert outcome.model_fields_set == validated.model_fields_set
    assert outcome.__pydantic_extra__ is None and outcome.__pydantic_private__ is None
    assert outcome.model_dump_json() == validated.model_dump_json()
    texts = [v for v in vars(outcome).values() if isinstance(v, str) and not isinstance(v, Enum)]
    assert all(type(v) is str for v in texts)  # validation makes a str subclass a str
    return outcome


@dataclass
class Outcomes:
    published: list[NotificationOutcome] = field(default_factory=list)

    async def publish(self, outcome: NotificationOutcome) -> None:
        self.published.append(_as_validated(outcome))

    async def publish_many(self, outcomes: list[NotificationOutcome]) -> None:
        self.published.extend(map(_as_validated, outcomes))

    def statuses(self) -> list[tuple[str, str, str]]:
        return [(o.template, o.recipient, o.status.value) for o in self.published]


@dataclass
class ScriptedSender:
    """A chat provider's sender: accepts unless ``answers`` scripts the next outcomes."""

    provider: str = "telegram"
    max_text_chars: int = 4096
    answers: list[SendOutcome] = field(default_factory=list)
    sent: list[OutboundMessage] = field(default_factory=list)
    attempts: int = 0
    unsendable: Unsendable | None = None

    def check(self, message: OutboundMessage, *, now: datetime) -> None:
        if self.unsendable is not None:
            raise self.unsendable

    async def send(self, message: OutboundMessage) -> SendOutcome:
        self.attempts += 1
        if self.answers:
            return self.answers.pop(0)
        self.sent.append(message)
        return SendOutcome(
            verdict=SendVerdict.ACCEPTED,
            provider_message_id=f"{self.provider}-{len(self.sent)}",
            accepted_at=T0 + timedelta(seconds=len(self.sent)),
            http_status=200,
        )


class InFlight:
    """Wraps a fake's send so that each call takes a moment; ``peak``: most calls at once."""

    def __init__(self, send: Callable[[Any], Awaitable[Any]], delay_s: float = 0.002) -> None:
        self._send = send
        self._delay_s = delay_s
        self._now = 0
        self.peak = 0

    async def __call__(self, item: Any) -> Any:
        self._now += 1
        self.peak = max(self.peak, self._now)
        await asyncio.sleep(self._delay_s)
        self._now -= 1
        return await self._send(item)

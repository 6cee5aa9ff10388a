"""One routing event in; mails, webhooks and outcomes out — each effect once.

For every notice of the plan (:mod:`services.notifier.decisions`):

1. claim it in the sent-log (already sent or suppressed → only re-publish
   the recorded outcome, whose ce_id is deterministic, and stop);
2. automatic customer replies must also take the sender's rate slot;
3. render, build and send, retrying transient failures with backoff
   (tenacity; each retry renews the claim and records the error);
4. record ``sent`` / ``failed`` and publish the ``NotificationOutcome``.

A notice that fails for good (5xx, HTTP 4xx, invalid address, broken
template, or transient failures beyond the retry budget) is recorded as
``failed``, published as such, and — after the event's other notices were
handled — the event is dead-lettered via ``PermanentError``. Errors of our
own plumbing (database, Kafka) propagate so the consumer retries the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
)

from libs.common.cloudevents import CloudEvent, cloud_event
from libs.common.enum_members import member_of
from libs.common.events import (
    AgentReplyRequested,
    NotificationChannel,
    NotificationOutcome,
    NotificationStatus,
    RoutingEvent,
    utc_now,
)
from libs.common.events.notification import (
    ABOUT_REPLY_EXTENSION,
    NOT_ABOUT_A_REPLY,
)
from libs.common.ids import deterministic_id
from libs.common.kafka.consumer import Delivery, PermanentError
from libs.common.kafka.producer import EventProducer
from libs.common.records import slot_constructor, tuple_constructor
from libs.providers.outbound import (
    OutboundMessage,
    ProviderSender,
    SendOutcome,
    SendVerdict,
    Unsendable,
)
from services.notifier import metrics
from services.notifier.chat import (
    PURPOSES,
    BatchSender,
    ChatSenders,
    ProviderUnavailable,
    SenderNotConfigured,
    StaticChatSenders,
    is_batch_sender,
    retry_delay,
    single_use_part,
)
from services.notifier.compose import Composer
from services.notifier.decisions import (
    ChatNotice,
    MailNotice,
    Plan,
    PlanConfig,
    Suppression,
    WebhookNotice,
    plan_notifications,
    rate_window_cutoff,
)
from services.notifier.errors import (
    DeliveryError,
    PermanentDeliveryError,
    RelayUnavailable,
    TransientDeliveryError,
)
from services.notifier.mail import (
    OutgoingMail,
)
from services.notifier.outcomes import OUTCOME_SCHEMA_VERSION, new_outcome
from services.notifier.sentlog import (
    Claim,
    ClaimResult,
    Finish,
    SendInfo,
    SendKey,
    SentRecord,
    Status,
)
from services.notifier.webhook_targets import WebhookTarget
from services.notifier.webhooks import WebhookRequest

log = logging.getLogger(__name__)

SendAttempt = Callable[[], Awaitable[str]]
Gate = Callable[[], Awaitable[str | None]]
Planned = tuple[str, RoutingEvent, Plan]  # event id, event, its plan
Notice = TypeVar("Notice", MailNotice, ChatNotice)

_OUTCOME_STATUS = {
    Status.SENT: NotificationStatus.SENT,
    Status.SUPPRESSED: NotificationStatus.SUPPRESSED,
    Status.FAILED: NotificationStatus.FAILED,
    Status.RETRY: NotificationStatus.RETRYING,  # published while a chat message is retried
}


#: Outcomes logged per notice only at DEBUG (see ``_outcome``); the rest at INFO.
_ROUTINE = frozenset(
    {NotificationStatus.SENT, NotificationStatus.ACCEPTED, NotificationStatus.SUPPRESSED}
)

#: A sent-log channel's outcome channel by a dict lookup, not an enum call by value (~1.3 µs
#: per outcome: ``EnumType.__call__`` runs in Python).
_channel_of = member_of(NotificationChannel)


class ShuttingDown(Exception):
    """Retries cut short by a stop: the consumer leaves the record uncommitted."""


class MailTransport(Protocol):
    async def send(self, mail: OutgoingMail) -> None: ...


class WebhookTransport(Protocol):
    async def post(self, request: WebhookRequest) -> None: ...


class OutcomePublisher(Protocol):
    async def publish(self, outcome: NotificationOutcome) -> None: ...
    async def publish_many(self, outcomes: list[NotificationOutcome]) -> None: ...


class SentLogStore(Protocol):
    """What the handler needs of :class:`~services.notifier.sentlog.SentLog`."""

    async def claim(self, key: SendKey, info: SendInfo, *, now: datetime) -> Claim: ...
    def lease_expires_at(self, record: SentRecord) -> datetime | None: ...
    async def touch(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord: ...
    async def renew_claim(
        self, key: SendKey, *, claimed_at: datetime, now: datetime
    ) -> SentRecord | None: ...
    async def mark_sent(self, key: SendKey, *, message_id: str, now: datetime) -> SentRecord: ...
    async def mark_retry(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord: ...
    async def mark_failed(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord: ...
    async def mark_suppressed(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord: ...
    async def record_suppressed(
        self, key: SendKey, info: SendInfo, *, reason: str, now: datetime
    ) -> SentRecord: ...
    async def take_rate_slot(
        self, sender: str, *, event_id: str, now: datetime, cutoff: datetime | None
    ) -> bool: ...
    async def take_rate_slots(
        self, requests: list[tuple[str, str]], *, now: datetime, cutoff: datetime | None
    ) -> set[tuple[str, str]]: ...
    async def claim_many(
        self, jobs: list[tuple[SendKey, SendInfo]], *, now: datetime
    ) -> dict[SendKey, Claim]: ...
    async def finish_many(self, finishes: list[Finish]) -> None: ...
    async def record_suppressed_many(
        self, suppressions: list[tuple[SendKey, SendInfo, str]], *, now: datetime
    ) -> dict[SendKey, SentRecord]: ...


class KafkaOutcomePublisher:
    """Outcomes on ``support.notifications.v1``, keyed by conversation id."""

    def __init__(self, producer: EventProducer, *, topic: str, source: str) -> None:
        self._producer = producer
        self._topic = topic
        self._source = source

    async def publish(self, outcome: NotificationOutcome) -> None:
        await self._producer.publish(self._topic, self._event(outcome), key=outcome.conversation_id)

    async def publish_many(self, outcomes: list[NotificationOutcome]) -> None:
        """A poll's outcomes as one batch (one request per partition, per-key order kept:
        appended in list order), one deadline and one metrics update for all; a task
        and a timeout per outcome cost ~110 µs each in the backlog profile."""
        await self._producer.publish_many(
            self._topic, [(self._event(o), o.conversation_id) for o in outcomes]
        )

    def _event(self, outcome: NotificationOutcome) -> CloudEvent:
        return cloud_event(  # CloudEvent(...) without its frozen __init__ (~9 K instructions)
            outcome_event_id(outcome),
            self._source,
            NotificationOutcome.ce_type,
            outcome,
            outcome.occurred_at,
            outcome.conversation_id,
            # the router's reply-outcome consumer skips these undecoded; ``about_a_reply``
            # written out (a Python call an outcome)
            {}
            if outcome.reply_id is not None or outcome.single_use is not None
            else {ABOUT_REPLY_EXTENSION: NOT_ABOUT_A_REPLY},
        )


def outcome_event_id(outcome: NotificationOutcome) -> str:
    """Deterministic per notice; "still retrying" is a report of its own (not the final one).
    The parts passed as they are, not gathered in a list and unpacked (once an outcome)."""
    event_id, recipient, template = outcome.routing_event_id, outcome.recipient, outcome.template
    if outcome.status is NotificationStatus.RETRYING:
        return deterministic_id(_OUTCOME_ID_KIND, event_id, recipient, template, "retrying")
    return deterministic_id(_OUTCOME_ID_KIND, event_id, recipient, template)


_OUTCOME_ID_KIND = "notifier.outcome"


@dataclass(frozen=True, slots=True)
class RetryConfig:
    attempts: int = 6
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0


@dataclass(frozen=True, slots=True)
class HandlerConfig:
    plan: PlanConfig
    retry: RetryConfig
    rate_window_minutes: int
    lease_wait_cap_s: float = 120.0
    #: Conversations whose chat messages and webhooks go out at once (each in order).
    chat_concurrency: int = 8
    #: Mails built and in the SMTP conversation at once (the pool's size times the
    #: mails queued per connection, so a pipelining connection always has the next
    #: envelope to send with a content): a poll's mails are built as a slot is free
    #: and dropped once sent, so at most this many bodies are in memory, not the poll's.
    mail_concurrency: int = 4
    #: How long a ``sent`` record statement waits for more completions (see Recorder).
    record_linger_s: float = 0.02


@dataclass(frozen=True, slots=True)
class Sent:
    """A notice the other side accepted; ``retries``: attempts beyond the claim's first."""

    message_id: str
    retries: int


@dataclass(frozen=True, slots=True)
class ChatAccepted:
    """A chat message the provider (or the web-chat outbox) took."""

    message_id: str
    at: datetime
    retries: int  # attempts beyond the claim's first


@dataclass(frozen=True, slots=True)
class ChatRefusal:
    """Why a chat message can never be sent (recorded ``failed``, nothing requested)."""

    reason: str
    code: str
    dead_letter: str | None  # a broken template: the event is dead-lettered too


@dataclass(frozen=True, slots=True)
class ClaimedChat:
    """A chat message the poll claimed and built, waiting for its send."""

    job: Job
    claimed: SentRecord
    sender: ProviderSender
    message: OutboundMessage


@dataclass
class ChatPoll:
    """The chat messages of one poll after the poll-wide steps (:meth:`_chat_all`)."""

    outcomes: list[NotificationOutcome] = field(default_factory=list)
    #: Nothing left to send: done before, rate-held, refused, or taken by a batch sender.
    settled: set[SendKey] = field(default_factory=set)
    #: Claimed and built, sent in their conversation's lane.
    lanes: dict[SendKey, ClaimedChat] = field(default_factory=dict)


class Recorder:
    """Group commit of sent notices: each is recorded as soon as a statement is free,
    together with those that completed meanwhile. A crash leaves unrecorded only the
    mails in flight and those of one statement — not the whole poll — and those go
    again after the lease with the same Message-ID.

    ``linger_s``: a statement first waits that long for more completions (mails finish
    one by one, so without it most statements carried two or three rows and the
    statements, not the mails, took the sent-log's time); :meth:`close` cuts it short.
    """

    def __init__(self, sentlog: SentLogStore, *, linger_s: float = 0.0) -> None:
        self._log = sentlog
        self._linger_s = linger_s
        self._pending: list[Finish] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    def add(self, finish: Finish) -> None:
        self._pending.append(finish)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())

    async def close(self) -> None:
        """Wait until everything added is recorded; a database error is raised here."""
        self._closing.set()
        while self._task is not None:
            task = self._task
            await task
            if task is self._task:
                self._task = None

    async def _flush(self) -> None:
        while self._pending:
            if self._linger_s and not self._closing.is_set():
                # asyncio.timeout, not wait_for: no task of its own for the wait (3.11's
                # wait_for makes one), once per poll
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._linger_s):
                        await self._closing.wait()
            batch, self._pending = self._pending, []
            await self._log.finish_many(batch)


#: The polls' INFO line: at most one per this many seconds (see PollSummary).
SUMMARY_EVERY_S = 10.0


class PollSummary:
    """The INFO line of the polls' outcome counts: the first poll's at once, then at
    most one line per ``every_s``, counting every poll since the last line.

    A line per poll (JSON: the record, its formatting and write) was ~100 K instructions,
    3 % of a one-POST poll of the pipeline (callgrind), and at tens of polls a second
    only repeated what the outcomes topic and the metrics carry."""

    def __init__(self, every_s: float) -> None:
        self._every_s = every_s
        self._last: float | None = None  # time.monotonic() of the last line
        self._polls = self._events = 0
        self._counts: Counter[NotificationStatus] = Counter()

    def add(self, events: int, outcomes: list[NotificationOutcome], now: float) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        self._polls += 1
        self._events += events
        self._counts.update([outcome.status for outcome in outcomes])
        if self._last is not None and now - self._last < self._every_s:
            return
        self._last = now
        log.info(
            "%d event(s) in %d poll(s): %s",
            self._events,
            self._polls,
            ", ".join(f"{n} {status.value}" for status, n in sorted(self._counts.items())),
        )
        self._polls = self._events = 0
        self._counts.clear()


class PollSettled(Exception):
    """Some events of a poll failed for good (the rest are done). The runner then goes
    record by record: the per-record handler answers each event of the poll from its
    verdict (done, or dead-letter with the reasons) without sending anything again."""


class Job(NamedTuple):
    """One notice of one routing event, as the sent-log knows it (a NamedTuple, as the
    sent-log's values: one per notice of a poll)."""

    event_id: str
    event: RoutingEvent
    key: SendKey
    info: SendInfo


# The records built per notice, without their generated __init__ / __new__ (records.py).
_new_job = tuple_constructor(Job)
_new_send_info = tuple_constructor(SendInfo)
_new_send_key = tuple_constructor(SendKey)
_new_finish = tuple_constructor(Finish)
_new_sent_record = tuple_constructor(SentRecord)
_claimed_chat = slot_constructor(ClaimedChat)
_chat_accepted = slot_constructor(ChatAccepted)
_sent = slot_constructor(Sent)


class NotificationHandler:
    def __init__(
        self,
        *,
        config: HandlerConfig,
        composer: Composer,
        sentlog: SentLogStore,
        smtp: MailTransport,
        webhooks: WebhookTransport,
        outcomes: OutcomePublisher,
        chat: ChatSenders | None = None,
        clock: Callable[[], datetime] = utc_now,
        stopping: asyncio.Event | None = None,
        summary_every_s: float = SUMMARY_EVERY_S,
    ) -> None:
        self._config = config
        self._composer = composer
        self._log = sentlog
        self._smtp = smtp
        self._webhooks = webhooks
        self._outcomes = outcomes
        self._chat = chat or StaticChatSenders({}, {})
        self._now = clock
        self._stopping = stopping or asyncio.Event()
        # Stateless tenacity parts, built once (per send they were 4 % of a notice).
        self._backoff = wait_exponential(
            multiplier=config.retry.initial_backoff_s, max=config.retry.max_backoff_s
        )
        self._retryable = retry_if_exception_type(TransientDeliveryError)
        #: Attempts and outcomes counted, added to the metrics after each poll or event
        #: (one that raises: with the next one's).
        self._tally = metrics.Tally()
        self._mail_slots = asyncio.Semaphore(config.mail_concurrency)
        #: Event id → failures, of the last poll that ended in PollSettled (see there).
        self._verdicts: dict[str, list[str]] = {}
        #: The mail that found the relay unreachable: it alone retries (with backoff);
        #: the poll's other mails give up their claims until it gets through.
        self._relay_probe: SendKey | None = None
        self._summary = PollSummary(summary_every_s)

    async def __call__(self, delivery: Delivery) -> None:
        if delivery.event is None or not isinstance(delivery.event.data, RoutingEvent):
            raise PermanentError("not a routing event")
        verdict = self._verdicts.pop(delivery.event.id, None)
        if verdict:
            raise PermanentError("; ".join(verdict))
        if verdict is not None:
            return  # handled by the poll just before
        await self.handle(delivery.event.id, delivery.event.data)

    # --- a whole poll at once -------------------------------------------------

    async def handle_batch(self, deliveries: list[Delivery]) -> None:
        """Every notice of a poll: one sent-log claim and one record statement for
        all mails, mails sent concurrently (the SMTP pool bounds it), outcomes
        published together. Chat and webhook notices go one at a time per
        partition, as event by event. Same rules as :meth:`handle`: claim before send, the rate
        window, a redelivered poll only re-publishes what was recorded."""
        self._verdicts = {}
        self._relay_probe = None
        events: dict[str, RoutingEvent] = {}
        repeats: list[tuple[str, RoutingEvent]] = []  # the broker handed an event twice
        for delivery in deliveries:
            if delivery.event is None or not isinstance(delivery.event.data, RoutingEvent):
                raise PermanentError("not a routing event")  # per record: dead-lettered
            if delivery.event.id in events:
                repeats.append((delivery.event.id, delivery.event.data))
            else:
                events[delivery.event.id] = delivery.event.data
        plans = [(eid, ev, plan_notifications(ev, self._config.plan)) for eid, ev in events.items()]
        failures: dict[str, list[str]] = {event_id: [] for event_id in events}
        outcomes: list[NotificationOutcome] = []
        outcomes += await self._suppress_all(plans)
        # The poll's mails and chat messages are claimed in one statement (one sent-log
        # transaction less a poll: a one-POST poll of the pipeline claims one of each).
        mails = poll_jobs(plans, lambda plan: plan.mails, "smtp")
        chats = poll_jobs(plans, lambda plan: plan.chats, "chat")
        claims = await self._log.claim_many(
            [(job.key, job.info) for job, _ in (*mails.values(), *chats.values())],
            now=self._now(),
        )
        # One group commit for the poll's mails and chat messages; everything that went
        # out is recorded (close) before any outcome is published, even when a send or
        # a lane stops the poll.
        recorder = Recorder(self._log, linger_s=self._config.record_linger_s)
        try:
            try:
                outcomes += await self._mail_all(mails, claims, failures, recorder)
            except Exception as exc:
                # The mails stopped the poll (a relay outage, a stop): the chat messages
                # claimed with them are given up, as the mails' own claims are, so the
                # handed-again poll sends them at once instead of waiting their lease out.
                await self._release(chats, claims, exc)
                raise
            outcomes += await self._others_all(plans, chats, claims, failures, recorder)
        finally:
            await recorder.close()
        await self._outcomes.publish_many(outcomes)
        self._tally.flush()
        if outcomes:
            self._summary.add(len(events), outcomes, time.monotonic())
        for event_id, event in repeats:
            # As a redelivery: everything is recorded now, so only outcomes go out again
            # (an event that failed is settled below, not tried again here).
            if not failures[event_id]:
                await self.handle(event_id, event)
        if any(failures.values()):
            self._verdicts = failures
            failed = sum(1 for f in failures.values() if f)
            raise PollSettled(f"{failed} of {len(failures)} events failed for good")

    async def _suppress_all(self, plans: list[Planned]) -> list[NotificationOutcome]:
        jobs: dict[SendKey, tuple[Job, str]] = {}
        for event_id, event, plan in plans:
            for item in plan.suppressed:
                job = job_for(event_id, event, item.recipient, item.template, "smtp", item.locale)
                jobs.setdefault(job.key, (job, item.reason))
        records = await self._log.record_suppressed_many(
            [(job.key, job.info, reason) for job, reason in jobs.values()], now=self._now()
        )
        return [self._outcome(job, records[job.key]) for job, _ in jobs.values()]

    async def _release(
        self,
        jobs: dict[SendKey, tuple[Job, ChatNotice]],
        claims: dict[SendKey, Claim],
        error: Exception,
    ) -> None:
        """Give up the poll's claims of ``jobs`` (``retry``: the next claim takes them),
        in one sent-log transaction (``finish_many``), not one per claim as ``mark_retry``
        each: a relay outage stops every poll with its chat messages claimed. A sent-log
        that fails here leaves them to their lease; ``error`` is raised anyway."""
        now = self._now()
        reason = f"not sent: {error}"[:2000]
        released = [
            Finish(key, Status.RETRY, now, None, reason)
            for key in jobs
            if claims[key].result is ClaimResult.CLAIMED
        ]
        try:
            await self._log.finish_many(released)
        except Exception:
            log.warning("chat claims not released (taken over after their lease)", exc_info=True)

    async def _mail_all(
        self,
        jobs: dict[SendKey, tuple[Job, MailNotice]],
        claims: dict[SendKey, Claim],
        failures: dict[str, list[str]],
        recorder: Recorder,
    ) -> list[NotificationOutcome]:
        outcomes: list[NotificationOutcome] = []
        ready: list[tuple[Job, MailNotice, SentRecord]] = []
        for job, notice in jobs.values():
            claim = claims[job.key]
            if claim.result is ClaimResult.DONE:
                outcomes.append(self._outcome(job, claim.record, again=True))
            elif claim.result is ClaimResult.BUSY:
                # Another notifier holds it: wait its lease out, as a single event would.
                failures[job.event_id] += await self._deliver_mail(job.event_id, job.event, notice)
            else:
                ready.append((job, notice, claim.record))
        ready, suppressed = await self._rate_gate_all(ready)
        outcomes += suppressed

        async def send(job: Job, notice: MailNotice, claimed: SentRecord) -> list[str]:
            result = await self._send_claimed(job, self._mail_sender(job, notice))
            if isinstance(result, list):
                return result
            finish = _new_finish((job.key, Status.SENT, self._now(), result.message_id, None))
            outcomes.append(self._finish(recorder, job, claimed, finish, retries=result.retries))
            return []

        results = await self._each_mail(ready, send)
        for (job, _, _), result in zip(ready, results, strict=True):
            if isinstance(result, BaseException):
                raise result
            failures[job.event_id] += result
        return outcomes

    async def _each_mail(
        self,
        ready: list[tuple[Job, MailNotice, SentRecord]],
        send: Callable[[Job, MailNotice, SentRecord], Awaitable[list[str]]],
    ) -> list[list[str] | BaseException]:
        """``send`` for every mail, each one's result or error (the first error is raised
        once all are done, as ``gather(..., return_exceptions=True)`` gives them), by as
        many workers as mails may be in flight (``mail_concurrency``): not a task per
        mail of the poll, each waiting on the mail slots (a task, a semaphore waiter and
        gather's callback per mail: 1,097 K → 1,088 K instructions per outcome, callgrind,
        the backlog mix in process)."""
        results: list[list[str] | BaseException] = [[] for _ in ready]
        pending = iter(enumerate(ready))

        async def worker() -> None:
            for index, (job, notice, claimed) in pending:
                try:
                    results[index] = await send(job, notice, claimed)
                except Exception as exc:  # this mail's: the others still go
                    results[index] = exc

        workers = min(len(ready), self._config.mail_concurrency)
        if workers == 1:  # one mail (a small poll): no task and gather for it
            await worker()
            return results
        stopped = await asyncio.gather(*(worker() for _ in range(workers)), return_exceptions=True)
        for error in stopped:
            if isinstance(error, BaseException):  # cancelled: no further mail was started
                raise error
        return results

    async def _rate_gate_all(
        self, ready: list[tuple[Job, Notice, SentRecord]]
    ) -> tuple[list[tuple[Job, Notice, SentRecord]], list[NotificationOutcome]]:
        """The rate window for a poll's automatic customer replies: one statement for
        all their slots, one for the suppressions. Returns what may go out, and the
        outcomes of what may not."""
        now = self._now()
        minutes = self._config.rate_window_minutes
        cutoff = rate_window_cutoff(now, minutes)
        gated = [item for item in ready if item[1].rate_limited]
        if cutoff is None or not gated:
            return ready, []
        allowed = await self._log.take_rate_slots(
            [(notice.recipient, job.event_id) for job, notice, _ in gated], now=now, cutoff=cutoff
        )
        reason = f"rate window: an automatic reply within {minutes} min"
        held = {
            job.key
            for job, notice, _ in gated
            if (notice.recipient.lower(), job.event_id) not in allowed
        }
        if not held:
            return ready, []
        finishes = [
            (job, claimed, Finish(job.key, Status.SUPPRESSED, now, None, reason))
            for job, _, claimed in ready
            if job.key in held
        ]
        await self._log.finish_many([finish for _, _, finish in finishes])
        outcomes = [self._finished(job, claimed, finish) for job, claimed, finish in finishes]
        return [item for item in ready if item[0].key not in held], outcomes

    async def _others_all(
        self,
        plans: list[Planned],
        jobs: dict[SendKey, tuple[Job, ChatNotice]],
        claims: dict[SendKey, Claim],
        failures: dict[str, list[str]],
        recorder: Recorder,
    ) -> list[NotificationOutcome]:
        """Chat messages and webhooks one at a time per conversation, in event order
        (a conversation's events share a partition, so the poll holds them in order);
        up to ``chat_concurrency`` conversations at once. A kill leaves at most that
        many messages between the provider's 2xx and the ``sent`` record (providers
        without an idempotency key get those again after the lease).

        The chat messages were claimed, rate-gated and built for the whole poll first
        (:meth:`_chat_all`); what a batch sender took (web chat) is done, the lanes
        send the rest. A message claimed by another notifier goes the per-message way.
        """
        chats = await self._chat_all(jobs, claims, failures, recorder)
        by_conversation: dict[str, list[Planned]] = defaultdict(list)
        for event_id, event, plan in plans:
            if plan.webhooks or any(
                send_key(event_id, c.recipient, c.template) not in chats.settled for c in plan.chats
            ):
                by_conversation[event.conversation.conversation_id].append((event_id, event, plan))
        bound = asyncio.Semaphore(self._config.chat_concurrency)

        async def in_order(items: list[Planned]) -> None:
            async with bound:
                await one_by_one(items)

        async def one_by_one(items: list[Planned]) -> None:
            for event_id, event, plan in items:
                for chat in plan.chats:
                    key = send_key(event_id, chat.recipient, chat.template)
                    if key in chats.settled:
                        continue
                    lane = chats.lanes.get(key)
                    if lane is None:  # another notifier held it at the poll's claim
                        failures[event_id] += await self._deliver_chat(event_id, event, chat)
                    else:
                        failures[event_id] += await self._send_claimed_chat(lane, chat)
                for hook in plan.webhooks:
                    failures[event_id] += await self._deliver_webhook(event_id, event, hook)

        results = await asyncio.gather(
            *(in_order(items) for items in by_conversation.values()), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return chats.outcomes

    async def _chat_all(
        self,
        jobs: dict[SendKey, tuple[Job, ChatNotice]],
        claims: dict[SendKey, Claim],
        failures: dict[str, list[str]],
        recorder: Recorder,
    ) -> ChatPoll:
        """A poll's chat messages, claimed with its mails: one rate-slot statement, each
        built and checked; those for a batch sender (web chat's outbox) stored in one
        transaction per sender and recorded with the poll's group commit. What is left
        for the lanes: messages to providers sent one by one (retries, Retry-After)."""
        poll = ChatPoll()
        if not jobs:
            return poll
        claimed: list[tuple[Job, ChatNotice, SentRecord]] = []
        for job, notice in jobs.values():
            claim = claims[job.key]
            if claim.result is ClaimResult.DONE:
                poll.outcomes.append(self._outcome(job, claim.record, again=True))
                poll.settled.add(job.key)
            elif claim.result is ClaimResult.CLAIMED:
                claimed.append((job, notice, claim.record))
            # BUSY: not settled, not a lane: sent the per-message way (waits the lease out)
        allowed, held = await self._rate_gate_all(claimed)
        poll.outcomes += held
        poll.settled |= {job.key for job, _, _ in claimed}  # all but the lanes, below
        batches: dict[int, tuple[BatchSender, list[ClaimedChat]]] = {}
        not_configured: Counter[str] = Counter()
        for job, notice, record in allowed:
            prepared = self._prepare_chat(job, notice, warn=False)
            if isinstance(prepared, ChatRefusal):
                if prepared.code == "not_configured":
                    not_configured[prepared.reason] += 1
                failed = Finish(job.key, Status.FAILED, self._now(), None, prepared.reason[:2000])
                poll.outcomes.append(
                    self._finish(recorder, job, record, failed, error_code=prepared.code)
                )
                if prepared.dead_letter:
                    failures[job.event_id].append(prepared.dead_letter)
                continue
            sender, message = prepared
            chat = _claimed_chat(job, record, sender, message)
            if is_batch_sender(sender):
                batches.setdefault(id(sender), (sender, []))[1].append(chat)
            else:
                poll.lanes[job.key] = chat
                poll.settled.discard(job.key)
        for reason, count in not_configured.items():
            # An operator's gap, visible on every such outcome; logged once per poll.
            log.warning("%d chat message(s) not sent: %s", count, reason)
        for sender, items in batches.values():
            started = time.perf_counter()
            results = await sender.send_many([chat.message for chat in items])
            elapsed = time.perf_counter() - started
            for chat, outcome in zip(items, results, strict=True):
                if outcome.verdict is not SendVerdict.ACCEPTED:
                    poll.lanes[chat.job.key] = chat  # retried one by one, as any provider
                    poll.settled.discard(chat.job.key)
                    continue
                self._tally.add(metrics.attempts("chat", "ok"))  # counted after the poll
                metrics.send_seconds("chat").observe(elapsed)
                accepted = _new_finish(
                    (
                        chat.job.key,
                        Status.SENT,
                        outcome.accepted_at or self._now(),
                        outcome.provider_message_id or "",
                        None,
                    )
                )
                poll.outcomes.append(self._finish(recorder, chat.job, chat.claimed, accepted))
        return poll

    async def _send_claimed_chat(self, chat: ClaimedChat, notice: ChatNotice) -> list[str]:
        """A message the poll claimed, in its lane's turn. Its claim is renewed first once
        half its lease has passed (the lane may have waited out a provider's Retry-After):
        a claim that ran out and was taken over is left to its new owner."""
        job, record = chat.job, chat.claimed
        if record.claimed_at is not None and self._half_lease_passed(record):
            renewed = await self._log.renew_claim(
                job.key, claimed_at=record.claimed_at, now=self._now()
            )
            if renewed is None:
                return await self._deliver_chat(job.event_id, job.event, notice)
            chat = ClaimedChat(job, renewed, chat.sender, chat.message)
        accepted = await self._send_chat(job, chat.sender, chat.message)
        if accepted is not None:
            # Recorded at once, not by the poll's group commit: most providers have no
            # idempotency key, so a kill may re-send only what is in flight — at most
            # one message per lane (NOTIFIER_CHAT_CONCURRENCY), as before.
            record = await self._log.mark_sent(
                job.key, message_id=accepted.message_id, now=accepted.at
            )
            await self._publish(job, record)
        return []

    def _half_lease_passed(self, record: SentRecord) -> bool:
        expires = self._log.lease_expires_at(record)
        if expires is None or record.claimed_at is None:
            return False
        return self._now() >= record.claimed_at + (expires - record.claimed_at) / 2

    def _finish(
        self,
        recorder: Recorder,
        job: Job,
        claimed: SentRecord,
        finish: Finish,
        *,
        retries: int = 0,
        error_code: str | None = None,
    ) -> NotificationOutcome:
        """A claimed notice finished: its row goes with the poll's group commit, and its
        outcome (published once everything is recorded) is returned."""
        recorder.add(finish)
        return self._finished(job, claimed, finish, retries=retries, error_code=error_code)

    def _finished(
        self,
        job: Job,
        claimed: SentRecord,
        finish: Finish,
        *,
        retries: int = 0,
        error_code: str | None = None,
    ) -> NotificationOutcome:
        """The outcome of a claimed notice as ``finish`` records it."""
        record = _new_sent_record(
            (
                finish.status,
                claimed.attempts + retries,
                finish.message_id,
                finish.reason,
                claimed.locale,
                None,
                finish.at,
            )
        )
        return self._outcome(job, record, error_code=error_code)

    async def handle(self, event_id: str, event: RoutingEvent) -> None:
        plan = plan_notifications(event, self._config.plan)
        failures: list[str] = []
        for suppression in plan.suppressed:
            await self._record_suppression(event_id, event, suppression)
        for mail in plan.mails:
            failures += await self._deliver_mail(event_id, event, mail)
        for chat in plan.chats:
            failures += await self._deliver_chat(event_id, event, chat)
        for hook in plan.webhooks:
            failures += await self._deliver_webhook(event_id, event, hook)
        self._tally.flush()
        if failures:
            raise PermanentError("; ".join(failures))

    # --- notices -------------------------------------------------------------

    async def _record_suppression(
        self, event_id: str, event: RoutingEvent, suppression: Suppression
    ) -> None:
        job = job_for(
            event_id, event, suppression.recipient, suppression.template, "smtp", suppression.locale
        )
        record = await self._log.record_suppressed(
            job.key, job.info, reason=suppression.reason, now=self._now()
        )
        await self._publish(job, record)

    async def _deliver_mail(
        self, event_id: str, event: RoutingEvent, notice: MailNotice
    ) -> list[str]:
        job = job_for(event_id, event, notice.recipient, notice.template, "smtp", notice.locale)
        gate = self._rate_gate(job, notice) if notice.rate_limited else None
        return await self._run(job, self._mail_sender(job, notice), gate)

    async def _deliver_webhook(
        self, event_id: str, event: RoutingEvent, notice: WebhookNotice
    ) -> list[str]:
        job = job_for(event_id, event, notice.recipient, notice.template, "webhook")
        return await self._run(job, lambda: self._send_webhook(job, notice.target), None)

    async def _deliver_chat(
        self, event_id: str, event: RoutingEvent, notice: ChatNotice
    ) -> list[str]:
        """One message on the customer's chat channel: claim, check, send with retries, record.

        A provider's refusal (blocked user, window closed, expired callback …) or an
        integration without outbound credentials is recorded and published ``failed``
        with its code (the router tells the agent of a failed reply), not dead-lettered;
        a broken template is failed and dead-lettered like a mail's.
        """
        job = job_for(event_id, event, notice.recipient, notice.template, "chat", notice.locale)
        done = await self._claim(job)
        if done is not None:
            await self._publish(job, done, again=True)
            return []
        if notice.rate_limited:
            reason = await self._chat_rate_gate(job)
            if reason:
                record = await self._log.mark_suppressed(job.key, reason=reason, now=self._now())
                await self._publish(job, record)
                return []
        prepared = self._prepare_chat(job, notice)
        if isinstance(prepared, ChatRefusal):
            await self._chat_failed(job, prepared.reason, prepared.code)
            return [prepared.dead_letter] if prepared.dead_letter else []
        sender, message = prepared
        accepted = await self._send_chat(job, sender, message)
        if accepted is not None:
            record = await self._log.mark_sent(
                job.key, message_id=accepted.message_id, now=accepted.at
            )
            await self._publish(job, record)
        return []

    def _prepare_chat(
        self, job: Job, notice: ChatNotice, *, warn: bool = True
    ) -> tuple[ProviderSender, OutboundMessage] | ChatRefusal:
        """The sender and the checked message, or why it can never be sent.

        A provider's refusal (blocked user, window closed, expired callback …) or an
        integration without outbound credentials is recorded ``failed`` with its code
        (the router tells the agent of a failed reply), not dead-lettered; a broken
        template is failed and dead-lettered like a mail's.
        """
        path = notice.path
        try:
            sender = self._chat.sender(path.provider, path.integration)
            quick = self._chat.has_quick_replies(path.provider)
            message = self._composer.chat_message(
                job.event_id, job.event, notice, quick_replies=quick
            )
            sender.check(message, now=self._now())
        except Unsendable as exc:
            return ChatRefusal(f"{exc.code}: {exc.detail}", exc.code, None)
        except SenderNotConfigured as exc:
            # An operator's gap, visible on every such outcome (and the agent hears of
            # a failed reply); not a dead letter per chat conversation.
            if warn:
                log.warning("%s to %s: %s", notice.template, notice.recipient, exc)
            return ChatRefusal(str(exc), "not_configured", None)
        except PermanentDeliveryError as exc:
            failure = f"{notice.template} to {notice.recipient}: {exc}"
            return ChatRefusal(str(exc), "template", failure)
        return sender, message

    async def _send_chat(
        self, job: Job, sender: ProviderSender, message: OutboundMessage
    ) -> ChatAccepted | None:
        """Send a claimed message with retries. Accepted (the caller records it), or None:
        refused for good, recorded and published ``failed``. A provider that answers
        "later" for the whole budget, or a stop, releases the claim and raises."""
        retry = self._config.retry
        outcome: SendOutcome | None = None
        for attempt in range(1, retry.attempts + 1):
            if attempt > 1:
                await self._log.touch(job.key, reason=_describe(outcome), now=self._now())
            started = time.perf_counter()
            outcome = await sender.send(message)
            ok = outcome.verdict is SendVerdict.ACCEPTED
            metrics.attempts("chat", "ok" if ok else "error").inc()
            metrics.send_seconds("chat").observe(time.perf_counter() - started)
            if outcome.verdict is SendVerdict.ACCEPTED:
                return _chat_accepted(
                    outcome.provider_message_id or "",
                    outcome.accepted_at or self._now(),
                    attempt - 1,
                )
            if outcome.verdict is SendVerdict.PERMANENT:
                await self._chat_failed(job, _describe(outcome), outcome.error_code)
                return None
            if attempt == 1:
                await self._publish_retrying(job, outcome)
            if self._stopping.is_set():
                break
            delay = retry_delay(
                outcome, attempt, initial_s=retry.initial_backoff_s, max_s=retry.max_backoff_s
            )
            log.warning(
                "%s to %s: %s; retrying in %.1fs",
                job.key.template,
                job.key.recipient,
                _describe(outcome),
                delay,
            )
            await self._sleep_unless_stopping(delay)
            if self._stopping.is_set():
                break
        reason = _describe(outcome)
        await self._log.mark_retry(job.key, reason=reason, now=self._now())
        if self._stopping.is_set():
            raise ShuttingDown(reason)
        raise ProviderUnavailable(f"{job.key.recipient}: {reason}")

    async def _chat_failed(self, job: Job, reason: str, code: str | None) -> None:
        record = await self._log.mark_failed(job.key, reason=reason, now=self._now())
        await self._publish(job, record, error_code=code or "failed")

    async def _publish_retrying(self, job: Job, outcome: SendOutcome) -> None:
        now = self._now()
        retrying = SentRecord(Status.RETRY, 1, None, _describe(outcome), job.info.locale, now, now)
        await self._publish(job, retrying, error_code=outcome.error_code)

    async def _chat_rate_gate(self, job: Job) -> str | None:
        now = self._now()
        minutes = self._config.rate_window_minutes
        cutoff = rate_window_cutoff(now, minutes)
        if cutoff is None:
            return None
        allowed = await self._log.take_rate_slot(
            job.key.recipient, event_id=job.event_id, now=now, cutoff=cutoff
        )
        return None if allowed else f"rate window: an automatic reply within {minutes} min"

    # --- the claim / send / record cycle ------------------------------------

    async def _run(self, job: Job, send: SendAttempt, gate: Gate | None) -> list[str]:
        done = await self._claim(job)
        if done is not None:
            await self._publish(job, done, again=True)  # handled before: same outcome again
            return []
        reason = await gate() if gate else None
        if reason:
            record = await self._log.mark_suppressed(job.key, reason=reason, now=self._now())
            await self._publish(job, record)
            return []
        result = await self._send_claimed(job, send)
        if isinstance(result, list):
            return result
        record = await self._log.mark_sent(job.key, message_id=result.message_id, now=self._now())
        await self._publish(job, record)
        return []

    async def _send_claimed(self, job: Job, send: SendAttempt) -> Sent | list[str]:
        """Send a claimed notice with retries. Sent (the caller records it), or the
        failures of a notice recorded ``failed``; a relay outage or a stop releases
        the claim and raises."""
        try:
            return await self._with_retries(job, send)
        except RelayUnavailable as exc:
            # The relay is down, not this notice: release the claim and let the
            # consumer wait the outage out and hand us this event again.
            await self._log.mark_retry(job.key, reason=str(exc), now=self._now())
            raise
        except TransientDeliveryError as exc:
            if self._stopping.is_set():
                # Shutting down mid-retry: release the claim and leave the record
                # uncommitted; the next consumer sends it without waiting a lease out.
                await self._log.mark_retry(job.key, reason=str(exc), now=self._now())
                raise ShuttingDown(str(exc)) from exc
            return await self._record_failure(job, exc)
        except DeliveryError as exc:
            return await self._record_failure(job, exc)

    async def _record_failure(self, job: Job, exc: DeliveryError) -> list[str]:
        record = await self._log.mark_failed(job.key, reason=str(exc), now=self._now())
        await self._publish(job, record)
        return [f"{job.key.template} to {job.key.recipient}: {exc}"]

    async def _claim(self, job: Job) -> SentRecord | None:
        """None: ours to send. A record: already sent or suppressed, as recorded."""
        claim = await self._log.claim(job.key, job.info, now=self._now())
        if claim.result is ClaimResult.BUSY:
            # Another sender holds a fresh claim: wait its lease out, then ask again.
            expires = self._log.lease_expires_at(claim.record) or self._now()
            delay = (expires - self._now()).total_seconds()
            await self._sleep_unless_stopping(min(max(delay, 0.0), self._config.lease_wait_cap_s))
            if self._stopping.is_set():
                raise ShuttingDown(f"{job.key} still claimed by another notifier")
            claim = await self._log.claim(job.key, job.info, now=self._now())
            if claim.result is ClaimResult.BUSY:
                raise TransientDeliveryError(f"{job.key} is being sent by another notifier")
        return claim.record if claim.result is ClaimResult.DONE else None

    async def _with_retries(self, job: Job, send: SendAttempt) -> Sent:
        """A plain first attempt — nearly every notice needs no more — and tenacity only
        once it failed transiently: it is handed that failure as its first attempt, so
        the backoff, the claim renewals and the stop rules are the same as before."""
        attempt = self._timed(job, send)
        try:
            return _sent(await attempt(), 0)
        except TransientDeliveryError as exc:
            first_failure = exc
        retry = self._config.retry
        tries = 0

        async def counted() -> str:
            nonlocal tries
            tries += 1
            if tries == 1:
                raise first_failure
            return await attempt()

        retrying = AsyncRetrying(
            stop=(
                stop_after_attempt(retry.attempts)
                | stop_when_event_set(self._stopping)
                | (lambda _state: self._relay_probe not in (None, job.key))
            ),
            wait=self._backoff,
            retry=self._retryable,
            before_sleep=self._before_retry(job),
            sleep=self._sleep_unless_stopping,
            reraise=True,
        )
        message_id = await retrying(counted)
        return Sent(message_id, retries=tries - 1)

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _timed(self, job: Job, send: SendAttempt) -> SendAttempt:
        async def attempt() -> str:
            started = time.perf_counter()
            try:
                result = await send()
            except DeliveryError:
                self._tally.add(metrics.attempts(job.info.channel, "error"))
                raise
            self._tally.add(metrics.attempts(job.info.channel, "ok"))
            metrics.send_seconds(job.info.channel).observe(time.perf_counter() - started)
            return result

        return attempt

    def _before_retry(self, job: Job) -> Callable[[RetryCallState], Awaitable[None]]:
        async def renew(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s to %s: attempt %d failed (%s); retrying",
                job.key.template,
                job.key.recipient,
                state.attempt_number,
                error,
            )
            await self._log.touch(job.key, reason=f"retrying: {error}", now=self._now())

        return renew

    def _rate_gate(self, job: Job, notice: MailNotice) -> Gate:
        async def gate() -> str | None:
            now = self._now()
            minutes = self._config.rate_window_minutes
            cutoff = rate_window_cutoff(now, minutes)
            if cutoff is None:
                return None
            allowed = await self._log.take_rate_slot(
                notice.recipient, event_id=job.event_id, now=now, cutoff=cutoff
            )
            return None if allowed else f"rate window: an automatic reply within {minutes} min"

        return gate

    # --- sending -------------------------------------------------------------

    def _mail_sender(self, job: Job, notice: MailNotice) -> SendAttempt:
        async def send() -> str:
            async with self._mail_slots:
                if self._relay_probe not in (None, job.key):
                    # Another mail of this poll found the relay unreachable and retries it
                    # with backoff: this one gives up its claim instead of queueing
                    # connection attempts (the consumer waits the outage out, then resends).
                    raise RelayUnavailable("SMTP relay unreachable (another mail is retrying it)")
                mail = self._composer.mail(job.event_id, job.event, notice)
                try:
                    await self._smtp.send(mail)
                except RelayUnavailable:
                    self._relay_probe = self._relay_probe or job.key
                    raise
            if self._relay_probe == job.key:
                self._relay_probe = None  # the relay answers again
            return mail.message_id

        return send

    async def _send_webhook(self, job: Job, target: WebhookTarget) -> str:
        request = self._composer.webhook(job.event_id, job.event, target)
        await self._webhooks.post(request)
        return request.delivery_id

    # --- outcomes ------------------------------------------------------------

    async def _publish(
        self,
        job: Job,
        record: SentRecord,
        *,
        again: bool = False,
        error_code: str | None = None,
    ) -> None:
        await self._outcomes.publish(self._outcome(job, record, again=again, error_code=error_code))

    def _outcome(
        self,
        job: Job,
        record: SentRecord,
        *,
        again: bool = False,
        error_code: str | None = None,
    ) -> NotificationOutcome:
        """The outcome of a recorded notice (counted and logged once, when first recorded)."""
        if record.status not in _OUTCOME_STATUS:
            raise RuntimeError(f"sent-log record for {job.key} is not final: {record.status}")
        status = _OUTCOME_STATUS[record.status]
        chat = job.info.channel == "chat"
        if chat and status is NotificationStatus.SENT:
            status = NotificationStatus.ACCEPTED  # the provider took it; receipts tell the rest
        event = job.event
        delivered = status in (NotificationStatus.SENT, NotificationStatus.ACCEPTED)
        path = event.conversation.reply_path if chat else None
        outcome = new_outcome(
            {  # every field, in the model's order (its serialiser's)
                "schema_version": OUTCOME_SCHEMA_VERSION,
                "routing_event_id": job.event_id,
                "routing_event_type": job.event.ce_type,
                "conversation_id": job.event.conversation.conversation_id,
                "channel": _channel_of(job.info.channel),
                "recipient": job.key.recipient,
                "template": job.key.template,
                "locale": record.locale,
                "status": status,
                "attempts": record.attempts,
                "message_id": record.message_id,
                "reason": record.reason,
                "occurred_at": record.updated_at,
                "reply_id": event.reply_id if isinstance(event, AgentReplyRequested) else None,
                "purpose": PURPOSES.get(job.key.template),
                "provider": path.provider if path else None,
                "provider_message_id": (record.message_id or None) if chat and delivered else None,
                "accepted_at": record.updated_at if delivered else None,
                "error_code": error_code,
                "single_use": single_use_part(path) if delivered else None,
            }
        )
        if again:
            log.debug("%s to %s: already %s", job.key.template, job.key.recipient, status.value)
            return outcome
        # ``_value_``: the enum's ``value`` property is a Python getter (once an outcome)
        self._tally.add(metrics.notified(job.info.channel, job.key.template, status._value_))
        # A notice that went out or was held on purpose is recorded in the sent-log and
        # published as this outcome; a line per notice at INFO (JSON, ~40 CPU-µs each on
        # this machine, ~1.1 per interaction in a backlog) only repeats it — and the
        # recipient's address — so those are DEBUG and a poll logs its counts instead.
        level = logging.DEBUG if status in _ROUTINE else logging.INFO
        if log.isEnabledFor(level):
            reason = record.reason if status is not NotificationStatus.SENT else None
            log.log(
                level,
                "%s %s to %s%s",
                job.key.template,
                status.value,
                job.key.recipient,
                f" ({reason})" if reason else "",
            )
        return outcome


def _describe(outcome: SendOutcome | None) -> str:
    if outcome is None:
        return "not sent"
    parts = [outcome.error_code or outcome.verdict.value]
    if outcome.http_status:
        parts.append(f"HTTP {outcome.http_status}")
    if outcome.error_detail:
        parts.append(outcome.error_detail)
    return ": ".join(parts)[:2000]


def poll_jobs(
    plans: list[Planned], notices_of: Callable[[Plan], list[Notice]], channel: str
) -> dict[SendKey, tuple[Job, Notice]]:
    """A poll's sends of one kind by their sent-log key (an event's repeated notice once)."""
    jobs: dict[SendKey, tuple[Job, Notice]] = {}
    for event_id, event, plan in plans:
        for notice in notices_of(plan):
            job = job_for(
                event_id, event, notice.recipient, notice.template, channel, notice.locale
            )
            jobs.setdefault(job.key, (job, notice))
    return jobs


def job_for(
    event_id: str,
    event: RoutingEvent,
    recipient: str,
    template: str,
    channel: str,
    locale: str | None = None,
) -> Job:
    info = _new_send_info((event.ce_type, event.conversation.conversation_id, channel, locale))
    return _new_job((event_id, event, send_key(event_id, recipient, template), info))


def send_key(event_id: str, recipient: str, template: str) -> SendKey:
    """A notice's sent-log key (the key alone: no Job and SendInfo made to look one up)."""
    return _new_send_key((event_id, recipient.lower(), template))

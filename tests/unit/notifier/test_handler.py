"""The claim / send / record cycle with in-memory fakes: no sockets, no database."""

from __future__ import annotations

import asyncio

import pytest

from libs.common.events import Flags, NotificationStatus
from libs.common.kafka.consumer import PermanentError
from services.notifier.compose import ComposeConfig, Composer
from services.notifier.decisions import PlanConfig
from services.notifier.errors import TransientDeliveryError
from services.notifier.handler import HandlerConfig, NotificationHandler, RetryConfig, ShuttingDown
from services.notifier.mail import MailIdentity
from services.notifier.rendering import Renderer
from services.notifier.samples import sample_events, snapshot
from services.notifier.sentlog import SendInfo, SendKey, Status
from services.notifier.smtp import PermanentSmtpError, TransientSmtpError
from services.notifier.webhook_targets import WebhookTarget
from services.notifier.webhooks import PermanentWebhookError

from .fakes import T0, Clock, MemorySentLog, Outcomes, ScriptedSmtp, ScriptedWebhooks

AUDIT = WebhookTarget(
    name="audit",
    url="https://audit.example/hook",
    secret="s",
    event_types=["support.conversation.assigned"],
)


class World:
    def __init__(self, *, attempts: int = 3, window: int = 60, targets=()) -> None:
        self.sentlog = MemorySentLog()
        self.smtp = ScriptedSmtp()
        self.webhooks = ScriptedWebhooks()
        self.outcomes = Outcomes()
        self.stopping = asyncio.Event()
        clock = Clock()
        config = HandlerConfig(
            plan=PlanConfig(own_domain="desk.example", webhook_targets=tuple(targets)),
            retry=RetryConfig(attempts=attempts, initial_backoff_s=0.001, max_backoff_s=0.001),
            rate_window_minutes=window,
            lease_wait_cap_s=0.01,
        )
        composer = Composer(
            ComposeConfig(
                MailIdentity("support@desk.example", "Desk", "desk.example"), "https://c", "k"
            ),
            Renderer(),
            clock,
        )
        self.handler = NotificationHandler(
            config=config,
            composer=composer,
            sentlog=self.sentlog,
            smtp=self.smtp,
            webhooks=self.webhooks,
            outcomes=self.outcomes,
            clock=clock,
            stopping=self.stopping,
        )


def opened(email: str = "kim@example.kr", flags: Flags | None = None):
    conv = snapshot(email=email, language="en")
    if flags:
        conv = conv.model_copy(update={"customer_flags": flags})
    return sample_events(conv)["support.conversation.opened"]


ASSIGNED = sample_events()["support.conversation.assigned"]


async def test_sent_once_and_the_outcome_republished_on_redelivery():
    world = World()
    await world.handler.handle("ev-1", opened())
    await world.handler.handle("ev-1", opened())
    assert len(world.smtp.sent) == 1
    first, second = world.outcomes.published
    assert first == second  # identical body; the publisher derives the same ce_id
    assert first.status is NotificationStatus.SENT
    assert first.message_id == world.smtp.sent[0].message_id


async def test_transient_failures_are_retried_with_the_claim_renewed():
    world = World(attempts=3)
    world.smtp.failures = [TransientSmtpError("421 busy"), TransientSmtpError("421 busy")]
    await world.handler.handle("ev-1", opened())
    [outcome] = world.outcomes.published
    assert (outcome.status, outcome.attempts) == (NotificationStatus.SENT, 3)
    assert world.smtp.attempts == 3


async def test_retry_budget_spent_is_failed_and_dead_lettered():
    world = World(attempts=2)
    world.smtp.failures = [TransientSmtpError("421 busy")] * 5
    with pytest.raises(PermanentError, match="421 busy"):
        await world.handler.handle("ev-1", opened())
    [outcome] = world.outcomes.published
    assert outcome.status is NotificationStatus.FAILED
    assert world.smtp.attempts == 2


async def test_permanent_failure_is_not_retried_and_other_notices_still_go_out():
    world = World(targets=[AUDIT])
    world.smtp.failures = [PermanentSmtpError("SMTP 550: no such user", code=550)]
    with pytest.raises(PermanentError, match="550"):
        await world.handler.handle("ev-1", ASSIGNED)
    assert world.smtp.attempts == 1
    assert world.outcomes.statuses() == [
        ("agent_assigned", "seoyeon@desk.example", "failed"),
        ("webhook.signed_json", "audit", "sent"),
    ]
    # A replay of the dead letter retries only the failed notice.
    await world.handler.handle("ev-1", ASSIGNED)
    assert len(world.smtp.sent) == 1 and len(world.webhooks.posted) == 1


async def test_webhook_4xx_is_permanent():
    world = World(targets=[AUDIT])
    world.webhooks.failures = [PermanentWebhookError("HTTP 404", code=404)]
    with pytest.raises(PermanentError, match="404"):
        await world.handler.handle("ev-1", ASSIGNED)
    assert world.outcomes.statuses()[-1] == ("webhook.signed_json", "audit", "failed")


async def test_flagged_sender_is_recorded_as_suppressed_once():
    world = World()
    await world.handler.handle("ev-1", opened(flags=Flags(mailing_list=True)))
    await world.handler.handle("ev-1", opened(flags=Flags(mailing_list=True)))
    assert world.smtp.attempts == 0
    assert [o.reason for o in world.outcomes.published] == ["sender flagged mailing_list"] * 2


async def test_one_acknowledgement_per_sender_per_window():
    world = World(window=60)
    await world.handler.handle("ev-1", opened())
    await world.handler.handle("ev-2", opened())
    await world.handler.handle("ev-3", opened("lee@example.kr"))
    assert [m.recipient for m in world.smtp.sent] == ["kim@example.kr", "lee@example.kr"]
    assert world.outcomes.published[1].status is NotificationStatus.SUPPRESSED
    assert world.outcomes.published[1].reason.startswith("rate window")


async def test_rate_window_zero_means_no_limit():
    world = World(window=0)
    await world.handler.handle("ev-1", opened())
    await world.handler.handle("ev-2", opened())
    assert len(world.smtp.sent) == 2


async def test_stop_during_retries_releases_the_claim():
    world = World(attempts=1000)
    world.smtp.failures = [TransientSmtpError("421 busy")] * 1000
    world.stopping.set()
    with pytest.raises(ShuttingDown):
        await world.handler.handle("ev-1", opened())
    key = SendKey("ev-1", "kim@example.kr", "customer_ack")
    assert world.sentlog.rows[key].status is Status.RETRY
    assert world.outcomes.published == []  # nothing final to report yet


async def test_a_fresh_claim_of_another_sender_is_waited_out_then_retried_later():
    world = World()
    key = SendKey("ev-1", "kim@example.kr", "customer_ack")
    await world.sentlog.claim(key, SendInfo("t", "c", "smtp", "en"), now=T0)  # lease: 60 s
    with pytest.raises(TransientDeliveryError, match="being sent by another notifier"):
        await world.handler.handle("ev-1", opened())
    assert world.smtp.attempts == 0

"""Chat replies, acknowledgements and surveys through an injected fake sender."""

from __future__ import annotations

import asyncio

import pytest

from libs.common.cloudevents import CloudEvent
from libs.common.events import Channel, Flags, NotificationStatus, ReplyPath
from libs.common.kafka.consumer import Delivery, DependencyUnavailable
from libs.providers.outbound import SendOutcome, SendVerdict, Unsendable
from services.notifier.chat import StaticChatSenders, retry_delay
from services.notifier.compose import ComposeConfig, Composer
from services.notifier.decisions import PlanConfig
from services.notifier.handler import HandlerConfig, NotificationHandler, RetryConfig
from services.notifier.mail import MailIdentity
from services.notifier.rendering import Renderer
from services.notifier.samples import sample_events, snapshot
from services.notifier.sentlog import Status

from .fakes import (
    Clock,
    InFlight,
    MemorySentLog,
    Outcomes,
    ScriptedSender,
    ScriptedSmtp,
    ScriptedWebhooks,
)

PATH = ReplyPath(provider="telegram", integration="tg-main", address="777000")


class ChatWorld:
    def __init__(
        self,
        *,
        attempts: int = 3,
        quick_replies: bool = True,
        chat_concurrency: int = 8,
        sentlog: MemorySentLog | None = None,
        senders: StaticChatSenders | None = None,
    ) -> None:
        self.sentlog = sentlog or MemorySentLog()
        self.smtp = ScriptedSmtp()
        self.sender = ScriptedSender()
        self.outcomes = Outcomes()
        self.stopping = asyncio.Event()
        self.clock = clock = Clock()
        senders = senders or StaticChatSenders(
            {("telegram", "tg-main"): self.sender},
            {("telegram", "tg-old"): "outbound.token is not set"},
            frozenset({"telegram"}) if quick_replies else frozenset(),
        )
        self.handler = NotificationHandler(
            config=HandlerConfig(
                plan=PlanConfig(),
                retry=RetryConfig(attempts=attempts, initial_backoff_s=0.001, max_backoff_s=0.001),
                rate_window_minutes=60,
                lease_wait_cap_s=0.01,
                chat_concurrency=chat_concurrency,
            ),
            composer=Composer(
                ComposeConfig(MailIdentity("s@desk.example", "Desk", "desk.example"), "x", "k"),
                Renderer(),
                clock,
            ),
            sentlog=self.sentlog,
            smtp=self.smtp,
            webhooks=ScriptedWebhooks(),
            outcomes=self.outcomes,
            chat=senders,
            clock=clock,
            stopping=self.stopping,
        )


def chat_events(
    path: ReplyPath | None = PATH,
    language: str = "en",
    flags: Flags | None = None,
    reference: str = "C-1234",
):
    conv = snapshot(channel=Channel.CHAT, language=language, reference=reference).model_copy(
        update={"reply_path": path, "customer_flags": flags or Flags()}
    )
    return sample_events(conv)


def retry_later(after_s: float | None = 0.01, code: str = "rate_limited") -> SendOutcome:
    return SendOutcome(
        verdict=SendVerdict.RETRY, retry_after_s=after_s, error_code=code, http_status=429
    )


async def test_an_agent_reply_is_sent_once_and_reported_accepted_with_the_providers_id():
    world = ChatWorld()
    reply = chat_events()["support.reply.requested"]
    await world.handler.handle("ev-reply", reply)
    await world.handler.handle("ev-reply", reply)  # redelivered: nothing sent again
    [message] = world.sender.sent
    assert message.text == reply.text and message.idempotency_key == reply.reply_id
    assert message.purpose.value == "agent_reply" and message.path == PATH
    first, again = world.outcomes.published
    assert first == again
    assert (first.channel.value, first.status) == ("chat", NotificationStatus.ACCEPTED)
    assert first.reply_id == reply.reply_id and first.provider_message_id == "telegram-1"
    assert first.accepted_at is not None and first.provider == "telegram"
    assert world.smtp.attempts == 0  # a chat conversation gets no mail


async def test_429_is_retried_after_the_providers_hint_and_reported_retrying():
    world = ChatWorld(attempts=3)
    world.sender.answers = [retry_later(0.01), retry_later(0.01)]
    await world.handler.handle("ev-reply", chat_events()["support.reply.requested"])
    assert world.sender.attempts == 3 and len(world.sender.sent) == 1
    assert [o.status for o in world.outcomes.published] == [
        NotificationStatus.RETRYING,
        NotificationStatus.ACCEPTED,
    ]
    assert world.outcomes.published[0].error_code == "rate_limited"


def test_the_retry_delay_never_undercuts_retry_after_and_is_bounded():
    assert retry_delay(retry_later(30), 1, initial_s=0.5, max_s=30) == 30
    assert retry_delay(retry_later(None), 3, initial_s=0.5, max_s=30) == 2.0
    assert retry_delay(retry_later(10_000), 1, initial_s=0.5, max_s=30) == 300


async def test_a_permanent_refusal_is_a_visible_failed_outcome_not_a_retry_storm():
    world = ChatWorld()
    world.sender.answers = [
        SendOutcome(
            verdict=SendVerdict.PERMANENT,
            error_code="blocked",
            error_detail="Forbidden: bot was blocked by the user",
            http_status=403,
        )
    ]
    await world.handler.handle("ev-reply", chat_events()["support.reply.requested"])
    [outcome] = world.outcomes.published
    assert outcome.status is NotificationStatus.FAILED and outcome.error_code == "blocked"
    assert "blocked by the user" in outcome.reason and world.sender.attempts == 1


async def test_an_outage_is_waited_out_by_the_consumer_then_sent_once():
    world = ChatWorld(attempts=2)
    reply = chat_events()["support.reply.requested"]
    world.sender.answers = [retry_later(None, "provider_unavailable")] * 2
    with pytest.raises(DependencyUnavailable):
        await world.handler.handle("ev-reply", reply)
    [row] = world.sentlog.rows.values()
    assert row.status is Status.RETRY  # the claim is released for the next attempt
    await world.handler.handle("ev-reply", reply)  # the consumer hands it back later
    assert len(world.sender.sent) == 1
    assert [o.status.value for o in world.outcomes.published] == ["retrying", "accepted"]


async def test_what_can_never_be_sent_fails_before_any_request():
    world = ChatWorld()
    world.sender.unsendable = Unsendable(
        "window_closed", "more than 24 hours since the customer wrote", provider="whatsapp"
    )
    await world.handler.handle("ev-reply", chat_events()["support.reply.requested"])
    assert world.sender.attempts == 0
    [outcome] = world.outcomes.published
    assert (outcome.status.value, outcome.error_code) == ("failed", "window_closed")


async def test_an_unconfigured_integration_is_a_visible_failure_not_a_dead_letter():
    world = ChatWorld()
    old = PATH.model_copy(update={"integration": "tg-old"})
    await world.handler.handle("ev-reply", chat_events(old)["support.reply.requested"])
    [outcome] = world.outcomes.published
    assert (outcome.status, outcome.error_code) == (NotificationStatus.FAILED, "not_configured")
    assert "outbound.token is not set" in outcome.reason


async def test_acknowledgement_once_per_window_and_never_to_automated_senders():
    world = ChatWorld()
    await world.handler.handle("ev-open-1", chat_events()["support.conversation.opened"])
    await world.handler.handle("ev-open-2", chat_events()["support.conversation.opened"])
    assert [o.status.value for o in world.outcomes.published] == ["accepted", "suppressed"]
    [ack] = world.sender.sent
    assert ack.purpose.value == "acknowledgement" and "C-1234" in ack.text
    bot = chat_events(flags=Flags(auto_submitted=True))["support.conversation.opened"]
    await world.handler.handle("ev-open-3", bot)
    assert world.outcomes.published[-1].status is NotificationStatus.SUPPRESSED
    assert len(world.sender.sent) == 1


@pytest.mark.parametrize("quick", [True, False])
async def test_the_survey_uses_buttons_where_the_provider_has_them(quick):
    world = ChatWorld(quick_replies=quick)
    await world.handler.handle(
        "ev-res", chat_events(language="ko")["support.conversation.resolved"]
    )
    [survey] = world.sender.sent
    assert survey.purpose.value == "csat_survey" and "C-1234" in survey.text
    if quick:
        assert [b.payload for b in survey.quick_replies] == [f"csat:{n}" for n in range(1, 6)]
        assert "눌러" in survey.text
    else:
        assert survey.quick_replies == [] and "숫자로 답장" in survey.text


async def test_no_reply_path_is_a_recorded_suppression():
    world = ChatWorld()
    await world.handler.handle("ev-open", chat_events(None)["support.conversation.opened"])
    [outcome] = world.outcomes.published
    assert outcome.status is NotificationStatus.SUPPRESSED and "reply path" in outcome.reason


async def test_a_mailed_reply_reports_its_reply_id_and_the_relays_accept_time():
    world = ChatWorld()
    reply = sample_events(snapshot(language="en"))["support.reply.requested"]  # email channel
    await world.handler.handle("ev-mail-reply", reply)
    [outcome] = world.outcomes.published
    assert (outcome.channel.value, outcome.status) == ("smtp", NotificationStatus.SENT)
    assert outcome.reply_id == reply.reply_id and outcome.purpose == "agent_reply"
    assert outcome.accepted_at == outcome.occurred_at  # when the relay said 250
    assert world.sender.attempts == 0


async def test_a_polls_chat_messages_go_out_across_conversations_at_once_each_in_order():
    world = ChatWorld(chat_concurrency=3)
    sender = world.sender.send = InFlight(world.sender.send)  # type: ignore[method-assign]
    deliveries = []
    for r in range(3):  # a poll in partition order: the conversations interleaved
        for c in range(5):
            reply = chat_events(reference=f"C-{c}")["support.reply.requested"]
            reply = reply.model_copy(update={"reply_id": f"r-{c}-{r}", "text": f"answer {c}-{r}"})
            cloud = CloudEvent(id=f"ev-{c}-{r}", source="test", type=reply.ce_type, data=reply)
            deliveries.append(Delivery(record=None, event=cloud))  # type: ignore[arg-type]
    await world.handler.handle_batch(deliveries)
    assert sender.peak == 3  # the bound, not one at a time
    texts = [m.text for m in world.sender.sent]
    assert len(texts) == 15
    for c in range(5):
        assert [t for t in texts if t.startswith(f"answer {c}-")] == [
            f"answer {c}-{r}" for r in range(3)
        ]

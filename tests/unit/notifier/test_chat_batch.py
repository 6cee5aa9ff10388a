"""A poll's chat messages (``handle_batch``): claimed, gated and recorded at once; web
chat stored in one batch; provider messages still one by one per conversation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from libs.common.cloudevents import CloudEvent
from libs.common.events import NotificationStatus, ReplyPath
from libs.common.kafka.consumer import Delivery
from libs.providers.outbound import OutboundMessage, SendOutcome, SendVerdict
from services.notifier.chat import StaticChatSenders
from services.notifier.errors import RelayUnavailable
from services.notifier.sentlog import SendInfo, SendKey, SentRecord, Status
from services.notifier.smtp import SmtpRelayDown

from .fakes import T0, MemorySentLog, ScriptedSender
from .test_chat_dispatch import ChatWorld, chat_events, retry_later

SITE = ReplyPath(provider="webchat", integration="site", address="visitor-1")


def delivery(event_id: str, event) -> Delivery:  # type: ignore[no-untyped-def]
    cloud = CloudEvent(id=event_id, source="test", type=event.ce_type, data=event)
    return Delivery(record=None, event=cloud)  # type: ignore[arg-type]


@dataclass
class OutboxSender(ScriptedSender):
    """A batch sender (web chat's shape): ``batches`` holds each send_many call."""

    provider: str = "webchat"
    batches: list[list[OutboundMessage]] = field(default_factory=list)

    async def send_many(self, messages: list[OutboundMessage]) -> list[SendOutcome]:
        self.batches.append(messages)
        return [
            SendOutcome(
                verdict=SendVerdict.ACCEPTED,
                provider_message_id=f"webchat-{m.idempotency_key}",
                accepted_at=T0,
            )
            for m in messages
        ]


class CountingSentLog(MemorySentLog):
    """Counts the per-message statements the poll path should not need."""

    def __init__(self) -> None:
        super().__init__()
        self.single: list[str] = []

    async def claim(self, key: SendKey, info: SendInfo, *, now):  # type: ignore[no-untyped-def]
        self.single.append("claim")
        return await super().claim(key, info, now=now)

    async def mark_sent(self, key: SendKey, *, message_id: str, now) -> SentRecord:  # type: ignore[no-untyped-def]
        self.single.append("mark_sent")
        return await super().mark_sent(key, message_id=message_id, now=now)

    async def take_rate_slot(self, sender, *, event_id, now, cutoff) -> bool:  # type: ignore[no-untyped-def]
        self.single.append("take_rate_slot")
        return await super().take_rate_slot(sender, event_id=event_id, now=now, cutoff=cutoff)

    async def mark_retry(self, key: SendKey, *, reason: str, now) -> SentRecord:  # type: ignore[no-untyped-def]
        self.single.append("mark_retry")
        return await super().mark_retry(key, reason=reason, now=now)


def web_chat_world(*, configured: bool = True) -> tuple[ChatWorld, OutboxSender, CountingSentLog]:
    outbox = OutboxSender()
    log = CountingSentLog()
    senders = StaticChatSenders({("webchat", "site"): outbox} if configured else {}, {})
    return ChatWorld(sentlog=log, senders=senders), outbox, log


def opened_poll(n: int) -> list[Delivery]:
    deliveries = []
    for i in range(n):
        path = SITE.model_copy(update={"address": f"visitor-{i}"})
        event = chat_events(path, reference=f"W-{i}")["support.conversation.opened"]
        deliveries.append(delivery(f"ev-open-{i}", event))
    return deliveries


async def test_a_polls_web_chat_acknowledgements_are_one_batch_and_one_record_statement():
    world, outbox, log = web_chat_world()
    await world.handler.handle_batch(opened_poll(20))
    [batch] = outbox.batches
    assert [m.path.address for m in batch] == [f"visitor-{i}" for i in range(20)]  # poll order
    assert outbox.sent == []  # nothing went the one-by-one way
    acks = [o for o in world.outcomes.published if o.template == "chat_ack"]
    assert len(acks) == 20 and {o.status for o in acks} == {NotificationStatus.ACCEPTED}
    assert acks[0].provider_message_id == batch[0].idempotency_key.join(["webchat-", ""])
    rows = [r for k, r in log.rows.items() if k.template == "chat_ack"]
    assert {r.status for r in rows} == {Status.SENT} and len(rows) == 20
    # Per-message statements: only those the fake's batch methods make internally.
    assert "mark_sent" not in log.single
    # A redelivered poll stores nothing and reports the same outcomes again.
    published = len(world.outcomes.published)
    await world.handler.handle_batch(opened_poll(20))
    assert len(outbox.batches) == 1
    again = [o for o in world.outcomes.published[published:] if o.template == "chat_ack"]
    assert again == acks


async def test_an_unconfigured_web_chat_integration_fails_each_message_visibly_in_one_go():
    world, _, log = web_chat_world(configured=False)
    await world.handler.handle_batch(opened_poll(5))
    acks = [o for o in world.outcomes.published if o.template == "chat_ack"]
    assert [o.status for o in acks] == [NotificationStatus.FAILED] * 5
    assert {o.error_code for o in acks} == {"not_configured"}
    assert {r.status for k, r in log.rows.items() if k.template == "chat_ack"} == {Status.FAILED}


def two_replies() -> list[Delivery]:
    deliveries = []
    for n in (1, 2):
        reply = chat_events()["support.reply.requested"]
        reply = reply.model_copy(update={"reply_id": f"r-{n}", "text": f"answer {n}"})
        deliveries.append(delivery(f"ev-reply-{n}", reply))
    return deliveries


async def test_a_lane_message_whose_claim_ran_out_while_it_waited_is_left_to_its_new_owner():
    """The poll claimed both replies; the first waits out a long Retry-After, past the
    second's lease, and another notifier takes the second over and sends it. The lane
    must not send it again when its turn comes."""
    world = ChatWorld()
    second = SendKey("ev-reply-2", "telegram:tg-main:777000", "customer_reply")
    info = SendInfo("support.reply.requested", "conv-C-1234", "chat", "en")
    sender = world.sender
    original = sender.send

    async def send(message: OutboundMessage) -> SendOutcome:
        if message.text == "answer 1" and sender.attempts == 0:
            world.clock.now += timedelta(seconds=61)  # the wait, on the injected clock
            taken = await world.sentlog.claim(second, info, now=world.clock.now)
            assert taken.record.attempts == 2  # the other notifier took it over
            await world.sentlog.mark_sent(second, message_id="other-1", now=world.clock.now)
            sender.answers.append(retry_later(0.001))
        return await original(message)

    sender.send = send  # type: ignore[method-assign]
    await world.handler.handle_batch(two_replies())
    assert [m.text for m in sender.sent] == ["answer 1"]  # not "answer 2" a second time
    assert world.sentlog.rows[second].message_id == "other-1"


async def test_a_lane_message_that_waited_long_renews_its_claim_and_goes_out_in_order():
    world = ChatWorld()
    sender = world.sender
    original = sender.send

    async def send(message: OutboundMessage) -> SendOutcome:
        if message.text == "answer 1" and sender.attempts == 0:
            world.clock.now += timedelta(seconds=45)  # past half the lease, within it
            sender.answers.append(retry_later(0.001))
        return await original(message)

    sender.send = send  # type: ignore[method-assign]
    await world.handler.handle_batch(two_replies())
    assert [m.text for m in sender.sent] == ["answer 1", "answer 2"]
    second = world.sentlog.rows[SendKey("ev-reply-2", "telegram:tg-main:777000", "customer_reply")]
    assert second.status is Status.SENT and second.attempts == 1  # renewed, not re-claimed


async def test_a_relay_outage_releases_the_polls_chat_claims_taken_with_its_mails():
    """The poll claims its mails and chat messages in one statement; when the mails stop
    it (the relay is down), the chat messages' claims are given up too, so the poll
    handed again sends them at once (as a batch) instead of waiting their lease out."""
    world, outbox, log = web_chat_world()
    events = chat_events(SITE, reference="W-1")
    pipeline_poll = [
        delivery("ev-open", events["support.conversation.opened"]),
        delivery("ev-assigned", events["support.conversation.assigned"]),
    ]
    world.smtp.failures = [SmtpRelayDown("connection refused")] * 3  # the retry budget
    with pytest.raises(RelayUnavailable):
        await world.handler.handle_batch(pipeline_poll)
    assert outbox.batches == [] and world.outcomes.published == []
    [ack] = [k for k in log.rows if k.template == "chat_ack"]
    assert log.rows[ack].status is Status.RETRY
    await world.handler.handle_batch(pipeline_poll)  # the relay answers again
    [batch] = outbox.batches
    assert [m.path.address for m in batch] == ["visitor-1"] and outbox.sent == []
    assert len(world.smtp.sent) == 1
    assert {r.status for r in log.rows.values()} == {Status.SENT}
    statuses = {o.template: o.status for o in world.outcomes.published}
    assert statuses == {
        "chat_ack": NotificationStatus.ACCEPTED,
        "agent_assigned": NotificationStatus.SENT,
    }


async def test_a_relay_outage_releases_all_the_polls_chat_claims_in_one_statement():
    """The released claims of a poll's chat messages are one sent-log transaction
    (``finish_many``), not a ``mark_retry`` each; every one is ``retry``, none sent."""
    world, outbox, log = web_chat_world()
    poll = []
    for i in range(3):
        path = SITE.model_copy(update={"address": f"visitor-{i}"})
        events = chat_events(path, reference=f"W-{i}")
        poll.append(delivery(f"ev-open-{i}", events["support.conversation.opened"]))
        poll.append(delivery(f"ev-assigned-{i}", events["support.conversation.assigned"]))
    world.smtp.failures = [SmtpRelayDown("connection refused")] * 3  # the retry budget
    batches = log.batches
    with pytest.raises(RelayUnavailable):
        await world.handler.handle_batch(poll)
    acks = [r for k, r in log.rows.items() if k.template == "chat_ack"]
    assert len(acks) == 3 and {r.status for r in acks} == {Status.RETRY}
    assert all(r.reason and r.reason.startswith("not sent: ") for r in acks)
    assert outbox.batches == [] and world.outcomes.published == []
    # the mails give up their own claims one by one (mark_retry each, as before); the
    # chat claims go in one finish_many after record_suppressed_many and claim_many
    assert log.single.count("mark_retry") == 3  # the three mails, not the chat messages
    assert log.batches - batches == 3

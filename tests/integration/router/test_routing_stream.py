"""A stream of interactions through the real broker yields the expected routing events."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaConsumer

from libs.common.events.interaction import (
    CallDetails,
    Channel,
    CustomerIdentity,
    Direction,
    Flags,
    Interaction,
    InteractionKind,
    MessageBody,
    ThreadHints,
)
from libs.common.events.routing import (
    CallbackRequested,
    ConversationAssigned,
    ConversationOpened,
    ConversationQueued,
    InteractionRouted,
)
from libs.common.kafka.producer import EventProducer
from services.router.domain.assignment import AgentStatus
from services.router.runtime import RouterRuntime
from services.router.service.agents import set_agent_status
from tests.integration.router.helpers import RoutingReader, of_type, publish, published, routed_ids

pytestmark = pytest.mark.integration


def mail(clock, *, email, text, message_id, in_reply_to=(), flags=None, subject="Deposit"):
    now = clock()
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support@desk",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(email=email),
        subject=subject,
        body=MessageBody(text=text),
        flags=flags or Flags(),
        thread=ThreadHints(message_id=message_id, in_reply_to=list(in_reply_to)),
    )


def whatsapp(clock, phone, text):
    now = clock()
    return Interaction(
        channel=Channel.CHAT,
        provider="whatsapp",
        integration="wa-main",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(phone=phone, handle=f"whatsapp:{phone}"),
        body=MessageBody(text=text),
        thread=ThreadHints(provider_thread_id=phone),
    )


def missed_call(clock, phone):
    now = clock()
    return Interaction(
        channel=Channel.PHONE,
        provider="twilio",
        integration="tw-main",
        kind=InteractionKind.CALL_MISSED,
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(phone=phone),
        call=CallDetails(
            call_id="CA-1", from_number=phone, status="missed", callback_requested=True
        ),
    )


async def test_stream_yields_expected_routing_events(router_settings, clock):
    runtime = RouterRuntime(router_settings, clock=clock)
    await runtime.start()
    try:
        await set_agent_status(runtime.ctx, "agent-lee", AgentStatus.ONLINE)
        first = published(
            mail(clock, email="kim@example.com", text="입금이 안 됐어요", message_id="m1@kim")
        )
        clock.advance(minutes=5)
        reply = published(
            mail(
                clock,
                email="kim@example.com",
                text="아직이요",
                message_id="m2@kim",
                in_reply_to=["<m1@kim>"],
            )
        )
        auto = published(
            mail(
                clock,
                email="kim@example.com",
                text="I am out of office",
                message_id="m3@kim",
                in_reply_to=["m1@kim"],
                flags=Flags(out_of_office=True, auto_submitted=True),
            )
        )
        other = published(
            mail(clock, email="lee@example.com", text="Where is my deposit?", message_id="m9@lee")
        )
        chat = published(whatsapp(clock, "+821055556666", "hello, withdrawal stuck"))
        call = published(missed_call(clock, "+821055556666"))
        outbound = Interaction(
            **{
                **chat.interaction.model_dump(),
                "direction": Direction.OUTBOUND,
                "body": MessageBody(text="we are checking"),
            }
        )
        answer = published(outbound)
        items = [first, reply, auto, other, chat, call, answer]
        await publish(router_settings.kafka, [*items, first])  # `first` delivered twice
        expected = {i.event_id for i in items}
        async with RoutingReader(router_settings.kafka) as reader:
            events = await reader.wait_for(lambda evs: routed_ids(evs) >= expected)
            events = await reader.drain()
    finally:
        await runtime.stop()

    routed = {e.interaction_id: e for e in of_type(events, InteractionRouted)}
    assert set(routed) == expected
    assert (
        len(
            [
                e
                for e in events
                if isinstance(e.data, InteractionRouted) and e.data.interaction_id == first.event_id
            ]
        )
        == 1
    )  # the duplicate emitted nothing
    kim = routed[first.event_id].conversation
    assert routed[first.event_id].opened_conversation
    assert routed[reply.event_id].conversation.conversation_id == kim.conversation_id
    assert routed[auto.event_id].conversation.conversation_id == kim.conversation_id
    assert routed[auto.event_id].ignored_reason
    assert routed[other.event_id].conversation.conversation_id != kim.conversation_id
    assert kim.language == "ko" and kim.queue == "ko-support"
    # WhatsApp and a later Twilio missed call from the same number: ONE contact
    assert (
        routed[chat.event_id].conversation.contact_id
        == routed[call.event_id].conversation.contact_id
    )
    callbacks = of_type(events, CallbackRequested)
    assert [c.phone for c in callbacks] == ["+821055556666"]
    # the outbound chat answer joined the chat and counts as the first response
    assert (
        routed[answer.event_id].conversation.conversation_id
        == routed[chat.event_id].conversation.conversation_id
    )
    assert routed[answer.event_id].conversation.status == "waiting_on_customer"
    opened = {e.conversation.conversation_id for e in of_type(events, ConversationOpened)}
    assert len(opened) == 4  # kim, lee, the chat, the call
    handled = {e.conversation.conversation_id for e in of_type(events, ConversationAssigned)} | {
        e.conversation.conversation_id for e in of_type(events, ConversationQueued)
    }
    assert opened <= handled  # every opened conversation was assigned or queued
    assert kim.first_response_due_at == first.interaction.received_at + timedelta(minutes=30)


async def test_poison_record_is_dead_lettered_and_the_batch_still_routes(router_settings, clock):
    good = published(mail(clock, email="ok@example.com", text="hello", message_id="ok1@x"))
    async with EventProducer(router_settings.kafka, client_id="poison") as producer:
        await producer.send(
            router_settings.kafka.topics.interactions,
            b"{not json",
            key="ok@example.com",
            headers=[
                ("ce_specversion", b"1.0"),
                ("ce_id", b"bad-1"),
                ("ce_source", b"t"),
                ("ce_type", b"support.message.received"),
            ],
        )
    await publish(router_settings.kafka, [good])
    runtime = RouterRuntime(router_settings, clock=clock)
    await runtime.start()
    try:
        async with RoutingReader(router_settings.kafka) as reader:
            await reader.wait_for(lambda evs: good.event_id in routed_ids(evs))
        dead = AIOKafkaConsumer(
            router_settings.kafka.topics.deadletter,
            **router_settings.kafka.client_options(),
            group_id=None,
            auto_offset_reset="earliest",
        )
        await dead.start()
        try:
            record = await asyncio.wait_for(dead.getone(), 60)
        finally:
            await dead.stop()
    finally:
        await runtime.stop()
    assert record.value == b"{not json"
    assert dict(record.headers)["dlq_stage"] == b"router.route"

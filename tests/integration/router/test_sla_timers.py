"""SLA timers: business-hours breach end to end, overdue timers after a restart, fire once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from libs.common.events.routing import (
    ConversationEscalated,
    InteractionRouted,
    Priority,
    SlaBreached,
    SlaMetric,
    SlaWarning,
)
from services.router.runtime import RouterRuntime
from services.router.scheduler import Scheduler
from services.router.service.timers import fire_due_timers
from tests.integration.router.helpers import RoutingReader, of_type, publish, published, routed_ids

pytestmark = pytest.mark.integration
KST = ZoneInfo("Asia/Seoul")


def english_mail(at: datetime, n: int) -> Interaction:
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=at,
        received_at=at,
        customer=CustomerIdentity(email=f"trader{n}@example.com"),
        subject="Withdrawal pending",
        body=MessageBody(text="My transfer is pending since noon"),
        thread=ThreadHints(message_id=f"sla-{n}@example.com"),
    )


async def route(runtime: RouterRuntime, settings, items) -> None:
    await publish(settings.kafka, items)
    async with RoutingReader(settings.kafka) as reader:
        await reader.wait_for(lambda evs: routed_ids(evs) >= {i.event_id for i in items})


async def test_unanswered_mail_escalates_at_the_business_hours_breach(router_settings, clock):
    friday_evening = datetime(2026, 3, 6, 17, 50, tzinfo=KST)
    clock.set(friday_evening)
    runtime = RouterRuntime(router_settings, clock=clock, run_scheduler=False)
    await runtime.start()
    try:
        item = published(english_mail(friday_evening, 1))
        await route(runtime, router_settings, [item])
        scheduler = Scheduler(runtime.ctx)
        clock.set(datetime(2026, 3, 7, 12, 0, tzinfo=KST))  # Saturday: the desk is closed
        assert await scheduler.tick() == 0
        clock.set(datetime(2026, 3, 9, 9, 13, tzinfo=KST))  # Monday, 23 business minutes used
        assert await scheduler.tick() == 0
        clock.set(datetime(2026, 3, 9, 9, 14, tzinfo=KST))  # 80 % of 30 minutes
        assert await scheduler.tick() == 1
        clock.set(datetime(2026, 3, 9, 9, 19, tzinfo=KST))
        assert await scheduler.tick() == 0
        clock.set(datetime(2026, 3, 9, 9, 20, tzinfo=KST))  # Fri 17:50 + 30 business minutes
        assert await scheduler.tick() == 1
        async with RoutingReader(router_settings.kafka) as reader:
            events = await reader.wait_for(lambda evs: bool(of_type(evs, ConversationEscalated)))
            events = await reader.drain()
    finally:
        await runtime.stop()
    opened = of_type(events, InteractionRouted)[0].conversation
    assert opened.first_response_due_at == datetime(2026, 3, 9, 9, 20, tzinfo=KST)
    (warning,) = of_type(events, SlaWarning)
    (breach,) = of_type(events, SlaBreached)
    assert warning.reason.startswith("first_response SLA warning: notify assignee")
    assert warning.metric is SlaMetric.FIRST_RESPONSE and warning.occurred_at == datetime(
        2026, 3, 9, 9, 14, tzinfo=KST
    )
    assert breach.due_at == datetime(2026, 3, 9, 9, 20, tzinfo=KST) and breach.target_minutes == 30
    (escalated,) = of_type(events, ConversationEscalated)
    assert (escalated.from_priority, escalated.to_priority) == (Priority.NORMAL, Priority.HIGH)
    assert escalated.to_queue == "escalations" and escalated.supervisor.agent_id == "lead-kim"
    assert escalated.reason.startswith("first_response SLA breach")


async def test_overdue_timers_fire_once_after_a_restart(router_settings, clock):
    start = clock()
    runtime = RouterRuntime(router_settings, clock=clock, run_scheduler=False)
    await runtime.start()
    items = [published(english_mail(start, n)) for n in range(5)]
    try:
        await route(runtime, router_settings, items)
    finally:
        await runtime.stop()  # the router is down while the deadlines pass

    clock.advance(days=3)
    restarted = RouterRuntime(router_settings, clock=clock, run_scheduler=True)
    await restarted.start()  # the scheduler loop fires the overdue timers on its first rounds
    try:
        async with RoutingReader(router_settings.kafka) as reader:
            await reader.wait_for(lambda evs: len(of_type(evs, SlaBreached)) >= 5)
            await restarted.stop()
            again = RouterRuntime(
                router_settings, clock=clock, run_consumer=False, run_scheduler=False
            )
            await again.start()
            assert await Scheduler(again.ctx).tick() == 0  # nothing left to fire
            await again.stop()
            events = await reader.drain()
    finally:
        await restarted.stop()
    breaches = Counter(
        (e.conversation.conversation_id, e.metric) for e in of_type(events, SlaBreached)
    )
    # the 30-minute first response breached; the 48-business-hour resolution is not due yet
    assert set(breaches) == {(c, SlaMetric.FIRST_RESPONSE) for c, _ in breaches}
    assert len(breaches) == 5 and set(breaches.values()) == {1}
    warnings = Counter(
        (e.conversation.conversation_id, e.metric) for e in of_type(events, SlaWarning)
    )
    assert set(warnings.values()) == {1}


async def test_two_schedulers_racing_fire_each_timer_once(router_settings, clock):
    runtime = RouterRuntime(router_settings, clock=clock, run_scheduler=False)
    other = RouterRuntime(router_settings, clock=clock, run_consumer=False, run_scheduler=False)
    await runtime.start()
    await other.start()
    try:
        await route(
            runtime, router_settings, [published(english_mail(clock(), n)) for n in range(8)]
        )
        clock.advance(days=3)
        fired = await asyncio.gather(
            fire_due_timers(runtime.ctx, limit=5),
            fire_due_timers(other.ctx, limit=5),
            fire_due_timers(runtime.ctx, limit=5),
            fire_due_timers(other.ctx, limit=5),
            fire_due_timers(runtime.ctx, limit=100),
            fire_due_timers(other.ctx, limit=100),
        )
        assert await fire_due_timers(runtime.ctx) == 0
    finally:
        await other.stop()
        await runtime.stop()
    assert sum(fired) == 8 * 2  # first-response warning and breach, once each

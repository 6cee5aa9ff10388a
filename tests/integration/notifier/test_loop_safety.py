"""RFC 3834 loop safety through the real consumer, durable across restarts."""

from __future__ import annotations

import pytest

from libs.common.events import Flags, NotificationStatus
from services.notifier.samples import sample_events, snapshot

from .conftest import (
    notifier_settings,
    outcomes,
    publish_routing,
    read_topic,
    running_notifier,
)

pytestmark = pytest.mark.integration


def opened(reference: str, email: str, flags: Flags | None = None):
    conv = snapshot(reference=reference, email=email, language="en")
    if flags is not None:
        conv = conv.model_copy(update={"customer_flags": flags})
    return sample_events(conv)["support.conversation.opened"]


def assigned(reference: str):
    return sample_events(snapshot(reference=reference))["support.conversation.assigned"]


async def test_automated_senders_and_rate_window(kafka_topics, tmp_path, producer, smtp_server):
    settings = notifier_settings(
        kafka_topics, tmp_path, smtp_port=smtp_server.port, rate_window_minutes=60
    )
    async with running_notifier(settings):
        bulk = opened("C-10", "news@shop.example", Flags(bulk=True))
        robot = opened("C-11", "robot@shop.example", Flags(auto_submitted=True))
        await publish_routing(producer, kafka_topics, bulk, "ev-bulk")
        await publish_routing(producer, kafka_topics, robot, "ev-robot")
        await publish_routing(producer, kafka_topics, opened("C-12", "kim@example.kr"), "ev-first")
        await publish_routing(producer, kafka_topics, assigned("C-12"), "ev-sync-1")
        await smtp_server.wait_for_mail_to("seoyeon@desk.example")

    # Restarted notifier, same sent-log: the window is remembered.
    async with running_notifier(settings):
        await publish_routing(producer, kafka_topics, opened("C-12", "kim@example.kr"), "ev-second")
        await publish_routing(producer, kafka_topics, assigned("C-12"), "ev-sync-2")
        await smtp_server.wait_for_mail_to("seoyeon@desk.example", count=2)

    assert smtp_server.to("news@shop.example") == []
    assert smtp_server.to("robot@shop.example") == []
    assert len(smtp_server.to("kim@example.kr")) == 1

    records = await read_topic(
        kafka_topics, kafka_topics.topics.notifications, lambda rs: len(rs) >= 6
    )
    by_event = {e.data.routing_event_id: e.data for e in outcomes(records)}
    assert by_event["ev-bulk"].status is NotificationStatus.SUPPRESSED
    assert by_event["ev-bulk"].reason == "sender flagged bulk"
    assert by_event["ev-robot"].reason == "sender flagged auto_submitted"
    assert by_event["ev-first"].status is NotificationStatus.SENT
    assert by_event["ev-second"].status is NotificationStatus.SUPPRESSED
    assert by_event["ev-second"].reason.startswith("rate window")

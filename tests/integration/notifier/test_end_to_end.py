"""Routing events on the real broker → notifier → mail in aiosmtpd + outcomes on Kafka."""

from __future__ import annotations

import httpx
import pytest

from libs.common.events import NotificationOutcome, NotificationStatus
from services.notifier.handler import outcome_event_id
from services.notifier.samples import sample_events, snapshot
from tests.helpers.waiting import eventually

from .conftest import (
    free_port,
    notifier_settings,
    outcomes,
    publish_routing,
    read_topic,
    running_notifier,
)

pytestmark = pytest.mark.integration

FLOW = [
    "support.conversation.opened",
    "support.conversation.assigned",
    "support.sla.warning",
    "support.reply.requested",
    "support.conversation.resolved",
]


async def test_routing_events_become_mail_and_outcomes(
    kafka_topics, tmp_path, producer, smtp_server
):
    probe_port = free_port()
    settings = notifier_settings(
        kafka_topics, tmp_path, smtp_port=smtp_server.port, probe_port=probe_port
    )
    events = sample_events(snapshot(reference="C-777", language="ko"))
    async with running_notifier(settings):
        for n, event_type in enumerate(FLOW):
            await publish_routing(producer, kafka_topics, events[event_type], f"ev-e2e-{n}")
        await eventually(lambda: len(smtp_server.received) >= 6)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{probe_port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"kafka": "ok", "sentlog": "ok", "smtp": "ok"}
            metrics = (await client.get("/metrics")).text
            assert 'omnidesk_notifications_total{channel="smtp"' in metrics

    customer = [m.message for m in smtp_server.to("minjun.kim@example.kr")]
    subjects = sorted(m["Subject"] for m in customer)
    assert subjects == [
        "[#C-777] Re: 출금이 안 됩니다",
        "[#C-777] 문의가 접수되었습니다: 출금이 안 됩니다",
        "[#C-777] 상담은 만족스러우셨나요? (출금이 안 됩니다)",
    ]
    assert len(smtp_server.to("seoyeon@desk.example")) == 2  # assigned, then the SLA warning
    assert len(smtp_server.to("sam@desk.example")) == 1  # the supervisor: SLA warning
    csat = next(m for m in customer if "만족" in m["Subject"])
    assert "sig=" in csat.get_body(("plain",)).get_content()

    records = await read_topic(
        kafka_topics, kafka_topics.topics.notifications, lambda rs: len(rs) >= 6
    )
    received = outcomes(records)
    assert {e.data.status for e in received} == {NotificationStatus.SENT}
    assert {e.data.routing_event_type for e in received} == set(FLOW)
    for event in received:
        assert isinstance(event.data, NotificationOutcome)
        assert event.id == outcome_event_id(event.data)
        assert event.subject == "conv-C-777"
    assert {r.key for r in records} == {b"conv-C-777"}

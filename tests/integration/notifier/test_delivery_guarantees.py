"""Through the real consumer: retries until SMTP returns, no duplicates, dead letters."""

from __future__ import annotations

import pytest

from libs.common.events import NotificationStatus
from libs.common.kafka.reading import read_all
from services.notifier.handler import outcome_event_id
from services.notifier.samples import sample_events, snapshot
from services.notifier.sentlog import SendKey, SentLog, Status
from tests.helpers.waiting import eventually

from .conftest import (
    RecordingHandler,
    SmtpServer,
    free_port,
    header,
    notifier_settings,
    outcomes,
    publish_routing,
    read_topic,
    running_notifier,
)

pytestmark = pytest.mark.integration


def opened(reference: str, email: str):
    conv = snapshot(reference=reference, email=email, language="ko")
    return sample_events(conv)["support.conversation.opened"]


def assigned(reference: str):
    return sample_events(snapshot(reference=reference))["support.conversation.assigned"]


async def test_smtp_down_then_back_delivers_exactly_once(kafka_topics, tmp_path, producer):
    server = SmtpServer(free_port(), RecordingHandler())  # not listening yet
    settings = notifier_settings(kafka_topics, tmp_path, smtp_port=server.port, send_attempts=400)
    watcher = SentLog(settings.resolved_sentlog_url())
    await watcher.open()
    key = SendKey("ev-down-1", "down@example.kr", "customer_ack")
    try:
        async with running_notifier(settings):
            await publish_routing(
                producer, kafka_topics, opened("C-1", "down@example.kr"), "ev-down-1"
            )

            async def retrying() -> bool:
                record = await watcher.get(key)
                return bool(record and record.reason and record.reason.startswith("retrying"))

            await eventually(retrying)  # the notifier hit the dead server and is backing off
            server.start()
            await server.wait_for_mail_to("down@example.kr")
            # A later event on the same conversation proves the first one is finished.
            await publish_routing(producer, kafka_topics, assigned("C-1"), "ev-down-2")
            await server.wait_for_mail_to("seoyeon@desk.example")
    finally:
        server.stop()
        await watcher.close()
    assert len(server.to("down@example.kr")) == 1
    records = await read_topic(
        kafka_topics, kafka_topics.topics.notifications, lambda rs: len(rs) >= 2
    )
    [ack] = [e.data for e in outcomes(records) if e.data.routing_event_id == "ev-down-1"]
    assert ack.status is NotificationStatus.SENT
    assert ack.attempts > 1


async def test_relay_down_longer_than_the_retry_budget_is_waited_out(
    kafka_topics, tmp_path, producer
):
    """Two attempts only, then the consumer waits for the relay: no failure, no dead letter."""
    server = SmtpServer(free_port(), RecordingHandler())  # not listening yet
    settings = notifier_settings(kafka_topics, tmp_path, smtp_port=server.port, send_attempts=2)
    watcher = SentLog(settings.resolved_sentlog_url())
    await watcher.open()
    key = SendKey("ev-long-1", "long@example.kr", "customer_ack")
    try:
        async with running_notifier(settings):
            await publish_routing(
                producer, kafka_topics, opened("C-2", "long@example.kr"), "ev-long-1"
            )

            async def budget_spent_twice() -> bool:
                record = await watcher.get(key)
                return bool(record and record.attempts > 2)  # past the budget of two

            await eventually(budget_spent_twice)
            server.start()
            await server.wait_for_mail_to("long@example.kr")
    finally:
        server.stop()
        await watcher.close()
    assert len(server.to("long@example.kr")) == 1
    records = await read_topic(
        kafka_topics, kafka_topics.topics.notifications, lambda rs: len(rs) >= 1
    )
    assert {e.data.status for e in outcomes(records)} == {NotificationStatus.SENT}
    assert await read_all(kafka_topics, kafka_topics.topics.deadletter, idle_s=1.0) == []


async def test_redelivered_event_sends_nothing_twice_even_after_restart(
    kafka_topics, tmp_path, producer, smtp_server
):
    settings = notifier_settings(kafka_topics, tmp_path, smtp_port=smtp_server.port)
    event = opened("C-2", "twice@example.kr")
    async with running_notifier(settings):
        await publish_routing(producer, kafka_topics, event, "ev-dup-1")
        await publish_routing(producer, kafka_topics, event, "ev-dup-1")  # broker redelivery
        await publish_routing(producer, kafka_topics, assigned("C-2"), "ev-dup-2")
        await smtp_server.wait_for_mail_to("seoyeon@desk.example")
    assert len(smtp_server.to("twice@example.kr")) == 1

    # A new process on the same sent-log, made to re-read the topic from the start.
    restarted = settings.model_copy(update={"group_id": settings.group_id + "-again"})
    async with running_notifier(restarted):
        await publish_routing(producer, kafka_topics, assigned("C-2"), "ev-dup-3")
        await smtp_server.wait_for_mail_to("seoyeon@desk.example", count=2)
    assert len(smtp_server.to("twice@example.kr")) == 1
    assert len(smtp_server.to("seoyeon@desk.example")) == 2  # ev-dup-2 not re-sent either

    records = await read_topic(
        kafka_topics, kafka_topics.topics.notifications, lambda rs: len(rs) >= 7
    )
    acks = [e for e in outcomes(records) if e.data.routing_event_id == "ev-dup-1"]
    assert len(acks) == 4  # two copies, each handled by both processes; one ce_id
    assert {e.id for e in acks} == {outcome_event_id(acks[0].data)}
    assert {e.data.status for e in acks} == {NotificationStatus.SENT}


async def test_permanent_smtp_failure_is_dead_lettered_not_retried(
    kafka_topics, tmp_path, producer, smtp_server
):
    smtp_server.handler.refuse["gone@example.kr"] = "550 5.1.1 No such user"
    settings = notifier_settings(kafka_topics, tmp_path, smtp_port=smtp_server.port)
    async with running_notifier(settings):
        await publish_routing(producer, kafka_topics, opened("C-3", "gone@example.kr"), "ev-550")
        await publish_routing(producer, kafka_topics, assigned("C-3"), "ev-after-550")
        await smtp_server.wait_for_mail_to("seoyeon@desk.example")  # the consumer moved on
        # Both events may share a poll: its other notices go out first, then the
        # failed event is dead-lettered (from the poll's verdict, without a resend).
        [letter] = await read_topic(
            kafka_topics, kafka_topics.topics.deadletter, lambda rs: len(rs) >= 1
        )

    assert smtp_server.handler.rcpt_attempts["gone@example.kr"] == 1
    assert smtp_server.to("gone@example.kr") == []
    assert header(letter, "ce_id") == "ev-550"
    assert header(letter, "dlq_error_type") == "PermanentError"
    assert header(letter, "dlq_stage") == "notifier.handle"
    assert header(letter, "dlq_attempts") == "1"
    assert "550" in header(letter, "dlq_error")

    records = await read_topic(
        kafka_topics, kafka_topics.topics.notifications, lambda rs: len(rs) >= 2
    )
    [failed] = [e.data for e in outcomes(records) if e.data.routing_event_id == "ev-550"]
    assert failed.status is NotificationStatus.FAILED
    assert failed.recipient == "gone@example.kr"
    assert "550" in failed.reason


async def test_stop_during_an_outage_releases_the_claim_for_the_next_run(
    kafka_topics, tmp_path, producer
):
    server = SmtpServer(free_port(), RecordingHandler())  # not listening yet
    settings = notifier_settings(
        kafka_topics,
        tmp_path,
        smtp_port=server.port,
        send_attempts=10_000,
        send_backoff_max_s=30,
        claim_lease_s=600,  # the next run must not need to wait a lease out
    )
    watcher = SentLog(settings.resolved_sentlog_url())
    await watcher.open()
    key = SendKey("ev-stop-1", "stop@example.kr", "customer_ack")
    try:
        async with running_notifier(settings):
            await publish_routing(
                producer, kafka_topics, opened("C-4", "stop@example.kr"), "ev-stop-1"
            )

            async def retrying() -> bool:
                record = await watcher.get(key)
                return bool(record and record.attempts >= 3)

            await eventually(retrying)
        # The process stopped mid-retry (SIGTERM path): claim released, offset not committed.
        assert (await watcher.get(key)).status is Status.RETRY
        server.start()
        async with running_notifier(settings):
            await publish_routing(producer, kafka_topics, assigned("C-4"), "ev-stop-2")
            await server.wait_for_mail_to("seoyeon@desk.example")
    finally:
        server.stop()
        await watcher.close()
    assert len(server.to("stop@example.kr")) == 1

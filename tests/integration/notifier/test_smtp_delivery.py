"""Mail as it arrives at a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

import pytest

from libs.common.events import utc_now
from services.notifier.bootstrap import build_handler, open_adapters
from services.notifier.samples import sample_events, snapshot
from services.notifier.sentlog import SendInfo, SendKey, Status

from .conftest import notifier_settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def notifier(kafka_topics, tmp_path, smtp_server):
    settings = notifier_settings(kafka_topics, tmp_path, smtp_port=smtp_server.port)
    async with open_adapters(settings) as adapters:
        yield build_handler(settings, adapters), adapters


async def test_korean_acknowledgement_arrives_intact_with_loop_safe_headers(notifier, smtp_server):
    handler, adapters = notifier
    event = sample_events(snapshot(language="ko"))["support.conversation.opened"]
    await handler.handle("ev-ack-1", event)

    [mail] = smtp_server.to("minjun.kim@example.kr")
    assert mail.mail_from == "support@desk.example"
    assert mail.rcpt_tos == ["minjun.kim@example.kr"]
    message = mail.message
    assert message["Subject"] == "[#C-1234] 문의가 접수되었습니다: 출금이 안 됩니다"
    assert b"=?utf-8?" in mail.raw  # RFC 2047 on the wire
    assert message["From"].addresses[0].display_name == "코인데스크 고객지원"
    assert message["To"].addresses[0].display_name == "김민준"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Message-ID"].startswith("<omnidesk.C-1234.")
    assert message["Message-ID"].endswith("@desk.example>")
    assert message["In-Reply-To"] == "<abc@mail.example.kr>"
    assert message["References"].split() == [
        "<omnidesk.C-1234@desk.example>",
        "<first@mail.example.kr>",
        "<abc@mail.example.kr>",
    ]
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    html = message.get_body(("html",)).get_content()
    assert "접수 번호는 C-1234 입니다" in text
    assert "영업시간 기준 30분 이내, 월요일 10:00 (KST)까지 답변드리겠습니다.\n\n" in text
    assert "<strong>C-1234</strong>" in html
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    record = await adapters.sentlog.get(
        SendKey("ev-ack-1", "minjun.kim@example.kr", "customer_ack")
    )
    assert record.status is Status.SENT and record.message_id == message["Message-ID"]


async def test_agent_reply_threads_into_the_customers_email(notifier, smtp_server):
    handler, _ = notifier
    event = sample_events(snapshot(language="ko"))["support.reply.requested"]
    await handler.handle("ev-reply-1", event)

    [mail] = smtp_server.to("minjun.kim@example.kr")
    message = mail.message
    assert message["Auto-Submitted"] is None  # a person wrote it
    assert message["From"].addresses[0].display_name == "이서연 (코인데스크 고객지원)"
    assert message["From"].addresses[0].addr_spec == "support@desk.example"
    assert message["Reply-To"].addresses[0].display_name == "코인데스크 고객지원"
    assert message["In-Reply-To"] == "<abc@mail.example.kr>"
    assert "<first@mail.example.kr>" in message["References"]
    assert message["Subject"] == "[#C-1234] Re: 출금이 안 됩니다"
    assert "출금 지연은 해결되었습니다." in message.get_body(("plain",)).get_content()


async def test_staff_notices_reach_agent_and_supervisor(notifier, smtp_server):
    handler, _ = notifier
    events = sample_events(snapshot(language="en"))
    await handler.handle("ev-assign-1", events["support.conversation.assigned"])
    await handler.handle("ev-breach-1", events["support.sla.breached"])

    [assigned] = smtp_server.to("seoyeon@desk.example")
    [breached] = smtp_server.to("sam@desk.example")
    assert assigned.message["Subject"].startswith("[#C-1234] 배정됨:")  # agent's locale: ko
    assert breached.message["Subject"].startswith("[#C-1234] SLA BREACHED: first response")
    assert assigned.message["Auto-Submitted"] == "auto-generated"
    assert breached.message["References"] == "<omnidesk.C-1234@desk.example>"


async def test_connections_are_reused_across_mails(notifier, smtp_server):
    handler, adapters = notifier
    events = sample_events(snapshot(language="en"))
    for n in range(12):
        await handler.handle(f"ev-bulk-{n}", events["support.conversation.assigned"])
    assert len(smtp_server.to("seoyeon@desk.example")) == 12
    assert adapters.smtp.connections_opened == 1


async def test_redelivery_sends_once_on_each_database(
    kafka_topics, tmp_path, smtp_server, sentlog_url
):
    settings = notifier_settings(
        kafka_topics, tmp_path, smtp_port=smtp_server.port, sentlog_url=sentlog_url
    )
    event = sample_events(snapshot(language="en"))["support.conversation.resolved"]
    for _ in range(2):  # a redelivery, and a restarted process on the same database
        async with open_adapters(settings) as adapters:
            handler = build_handler(settings, adapters)
            await handler.handle("ev-csat-1", event)
            await handler.handle("ev-csat-1", event)
    [mail] = smtp_server.to("minjun.kim@example.kr")
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert "How did we do?" in mail.message["Subject"]


async def test_claim_of_a_crashed_sender_is_taken_over_after_its_lease(
    kafka_topics, tmp_path, smtp_server
):
    settings = notifier_settings(
        kafka_topics, tmp_path, smtp_port=smtp_server.port, claim_lease_s=0.5
    )
    event = sample_events(snapshot(language="en"))["support.conversation.assigned"]
    key = SendKey("ev-crashed", "seoyeon@desk.example", "agent_assigned")
    async with open_adapters(settings) as adapters:
        # Another notifier claimed this notice and died before recording the result.
        info = SendInfo(event.ce_type, "conv-C-1234", "smtp", "ko")
        await adapters.sentlog.claim(key, info, now=utc_now())
        await build_handler(settings, adapters).handle("ev-crashed", event)
        record = await adapters.sentlog.get(key)
    assert record.status is Status.SENT and record.attempts == 2
    assert len(smtp_server.to("seoyeon@desk.example")) == 1

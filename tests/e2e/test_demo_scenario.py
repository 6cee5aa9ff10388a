"""The `omnidesk demo` scenario against the whole system, every outcome asserted.

Email from a Korean customer (IMAP), a Telegram chat, a WhatsApp message and a
missed Twilio call from the same number, an agent going offline, an SLA breach
on a one-minute demo policy. Only public interfaces are used.
"""

from __future__ import annotations

from collections import Counter

import pytest

from libs.common.events import (
    CallbackRequested,
    InteractionRouted,
    NotificationOutcome,
    NotificationStatus,
)
from libs.common.kafka.reading import read_all
from tests.e2e.conftest import MAILBOX_PASSWORD, MAILBOX_USER
from tools.demo.scenario import (
    DemoCustomers,
    DemoTarget,
    MailboxAccess,
    decode_records,
    interaction_events,
    play,
    routing_events,
    timelines_of,
)
from tools.demo.timeline import render

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
async def demo(system, dovecot):
    target = DemoTarget(
        chat_url=system.url("chat_ingest"),
        phone_url=system.url("phone_log"),
        router_url=system.url("router"),
        api_key=system.admin_key,
        kafka=system.kafka,
        mailbox=MailboxAccess("127.0.0.1", dovecot.imap_port, MAILBOX_USER, MAILBOX_PASSWORD),
        escalation_timeout_s=150,
    )
    lines: list[str] = []
    run = await play(target, lines.append)
    timelines = await timelines_of(target, run)
    print("\n".join(lines) + render(timelines))
    return run, timelines


async def test_email_conversation_escalates_on_the_demo_sla(demo, system):
    _, timelines = demo
    mail = _timeline_with(timelines, "email/imap")
    types = mail.types()
    assert "support.conversation.opened" in types
    assert mail.queue == "escalations"
    for expected in (
        "support.sla.warning",
        "support.sla.breached",
        "support.conversation.escalated",
    ):
        assert expected in types, f"{expected} missing from {types}"
    assert types.index("support.sla.warning") < types.index("support.sla.breached")


async def test_whatsapp_and_missed_call_share_one_contact_and_ask_for_a_callback(demo, system):
    run, _ = demo
    number = run.customers.whatsapp_number
    kafka = system.kafka
    interactions = [e for e in await interaction_events(kafka) if e.data.customer_key == number]
    assert {e.data.channel for e in interactions} == {"chat", "phone"}
    routed = {
        e.data.interaction_id: e.data
        for e in await routing_events(kafka)
        if isinstance(e.data, InteractionRouted)
    }
    contacts = {routed[e.id].conversation.contact_id for e in interactions}
    assert len(contacts) == 1, "the phone number must resolve to one contact"
    callbacks = [e for e in await routing_events(kafka) if isinstance(e.data, CallbackRequested)]
    assert any(c.data.phone == number for c in callbacks)


async def test_telegram_chat_is_reassigned_when_its_agent_goes_offline(demo, system):
    run, timelines = demo
    chat = _timeline_with(timelines, "chat/telegram")
    assignments = [e for e in chat.entries if e.event_type == "support.conversation.assigned"]
    assert assignments, chat.types()
    assert run.offline_agent is not None
    moved = [
        e
        for e in chat.entries
        if e.event_type in ("support.conversation.assigned", "support.conversation.queued")
        and run.offline_agent not in e.summary
    ]
    assert moved, f"after {run.offline_agent} went offline nothing moved: {chat.types()}"


async def test_every_notification_is_sent_once_and_mail_arrived(demo, system, smtp_inbox):
    run, _ = demo
    customer = run.customers.email
    inbox, _ = smtp_inbox
    records = await read_all(system.kafka, system.kafka.topics.notifications, idle_s=1.0)
    outcomes = [e.data for e in decode_records(records) if isinstance(e.data, NotificationOutcome)]
    sent = [o for o in outcomes if o.status == NotificationStatus.SENT]
    keys = Counter((o.routing_event_id, o.recipient, o.template) for o in sent)
    assert sent and max(keys.values()) == 1, f"duplicate sends: {keys.most_common(3)}"
    smtp_sent = [o for o in sent if o.channel == "smtp"]
    assert len(inbox.messages) == len(smtp_sent)
    recipients = Counter(r for rcpts, _ in inbox.messages for r in rcpts)
    assert recipients[customer] >= 1, "the customer gets an acknowledgement"
    assert recipients["lead-kim@desk.example"] >= 1, "the supervisor hears of the breach"
    ack = next(m for rcpts, m in inbox.messages if customer in rcpts)
    assert ack["Auto-Submitted"].startswith("auto-")
    assert "[#C-" in ack["Subject"]


def _timeline_with(timelines, marker: str):
    for timeline in timelines:
        if any(marker in entry.summary for entry in timeline.entries):
            return timeline
    raise AssertionError(f"no conversation with {marker}: {[t.types() for t in timelines]}")


def test_scenario_identities_are_distinct():
    customers = DemoCustomers.for_run("1764300000000")
    assert len({customers.email, customers.whatsapp_number, customers.telegram_user}) == 3

"""Who hears about what: pure decisions, no event loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.common.events import AgentRef, Channel, ConversationQueued, Flags, ReplyPath
from libs.common.events.registry import EVENT_TYPES
from libs.common.events.routing import RoutingEvent
from services.notifier.decisions import (
    AUTO_GENERATED,
    AUTO_REPLIED,
    NOTICE_TYPES,
    Audience,
    PlanConfig,
    automatic_mail_block_reason,
    choose_locale,
    plan_notifications,
    rate_window_allows,
    rate_window_cutoff,
    silent_types,
)
from services.notifier.samples import SUPERVISOR, sample_events, snapshot
from services.notifier.webhook_targets import WebhookTarget

CONFIG = PlanConfig(
    locales=("en", "ko"),
    default_locale="en",
    own_addresses=frozenset({"support@desk.example"}),
    own_domain="desk.example",
)


def plan_for(event_type: str, conversation=None, config: PlanConfig = CONFIG):
    return plan_notifications(sample_events(conversation)[event_type], config)


def test_new_email_conversation_acknowledges_the_customer_as_auto_replied():
    plan = plan_for("support.conversation.opened")
    [mail] = plan.mails
    assert (mail.recipient, mail.template, mail.audience) == (
        "minjun.kim@example.kr",
        "customer_ack",
        Audience.CUSTOMER,
    )
    assert mail.auto_submitted == AUTO_REPLIED
    assert mail.rate_limited and mail.in_customer_thread
    assert mail.locale == "ko"


def test_chat_conversation_gets_its_acknowledgement_on_chat_not_by_mail():
    plan = plan_for("support.conversation.opened", snapshot(channel=Channel.CHAT))
    assert plan.mails == [] and plan.chats == []
    [suppressed] = plan.suppressed  # no reply path: recorded, never silently dropped
    assert suppressed.template == "chat_ack" and "reply path" in suppressed.reason
    path = ReplyPath(provider="line", integration="line-main", address="U123")
    conv = snapshot(channel=Channel.CHAT).model_copy(update={"reply_path": path})
    [chat] = plan_for("support.conversation.opened", conv).chats
    assert (chat.template, chat.purpose, chat.rate_limited) == ("chat_ack", "acknowledgement", True)
    assert chat.recipient == "line:line-main:U123"


def test_assignment_goes_to_the_assignee_in_their_locale():
    [mail] = plan_for("support.conversation.assigned").mails
    assert (mail.recipient, mail.template, mail.locale) == (
        "seoyeon@desk.example",
        "agent_assigned",
        "ko",
    )
    assert mail.auto_submitted == AUTO_GENERATED
    assert not mail.in_customer_thread


def test_transfer_goes_to_the_new_agent():
    [mail] = plan_for("support.conversation.transferred").mails
    assert (mail.recipient, mail.template, mail.locale) == (
        "alex@desk.example",
        "agent_transferred",
        "en",
    )


@pytest.mark.parametrize(
    ("event_type", "template"),
    [
        ("support.sla.breached", "supervisor_sla_breached"),
        ("support.conversation.escalated", "supervisor_escalated"),
    ],
)
def test_sla_and_escalation_go_to_the_supervisor(event_type, template):
    [mail] = plan_for(event_type).mails
    assert (mail.recipient, mail.template, mail.audience) == (
        SUPERVISOR.email,
        template,
        Audience.SUPERVISOR,
    )


def test_sla_warning_reaches_the_assignee_and_the_supervisor():
    mails = plan_for("support.sla.warning").mails
    assert [(m.recipient, m.template, m.audience) for m in mails] == [
        ("seoyeon@desk.example", "supervisor_sla_warning", Audience.AGENT),
        (SUPERVISOR.email, "supervisor_sla_warning", Audience.SUPERVISOR),
    ]


def test_sla_warning_without_supervisor_reaches_the_assignee():
    conv = snapshot().model_copy(update={"supervisor": None})
    [mail] = plan_for("support.sla.warning", conv).mails
    assert (mail.recipient, mail.audience) == ("seoyeon@desk.example", Audience.AGENT)


def test_sla_breach_with_nobody_to_tell_is_suppressed_with_a_reason():
    conv = snapshot().model_copy(update={"supervisor": None, "assignee": None})
    plan = plan_for("support.sla.breached", conv)
    assert plan.mails == []
    [suppressed] = plan.suppressed
    assert suppressed.reason == "no supervisor or agent"


def test_callback_goes_to_the_assignee_else_the_supervisor():
    [mail] = plan_for("support.callback.requested").mails
    assert (mail.recipient, mail.audience) == ("seoyeon@desk.example", Audience.AGENT)
    conv = snapshot().model_copy(update={"assignee": None})
    [mail] = plan_for("support.callback.requested", conv).mails
    assert (mail.recipient, mail.audience) == (SUPERVISOR.email, Audience.SUPERVISOR)


def test_agent_without_email_is_suppressed():
    event = sample_events()["support.conversation.assigned"]
    event = event.model_copy(update={"agent": AgentRef(agent_id="a-9")})
    plan = plan_notifications(event, CONFIG)
    assert plan.mails == []
    assert plan.suppressed[0].recipient == "agent:a-9"


def test_resolution_sends_csat_auto_generated():
    [mail] = plan_for("support.conversation.resolved").mails
    assert (mail.template, mail.auto_submitted, mail.rate_limited) == (
        "customer_csat",
        AUTO_GENERATED,
        False,
    )


def test_agent_reply_is_a_person_writing_no_auto_submitted_even_to_flagged_senders():
    conv = snapshot().model_copy(update={"customer_flags": Flags(bulk=True)})
    [mail] = plan_for("support.reply.requested", conv).mails
    assert mail.template == "customer_reply"
    assert mail.auto_submitted is None
    assert mail.in_customer_thread


@pytest.mark.parametrize(
    "flags",
    [
        Flags(auto_submitted=True),
        Flags(auto_reply=True),
        Flags(out_of_office=True),
        Flags(bulk=True),
        Flags(mailing_list=True),
        Flags(bounce=True),
        Flags(loop=True),
    ],
)
@pytest.mark.parametrize(
    "event_type", ["support.conversation.opened", "support.conversation.resolved"]
)
def test_no_automatic_mail_to_automated_senders(flags, event_type):
    conv = snapshot().model_copy(update={"customer_flags": flags})
    plan = plan_for(event_type, conv)
    assert plan.mails == []
    [suppressed] = plan.suppressed
    assert suppressed.reason.startswith("sender flagged ")
    assert suppressed.recipient == "minjun.kim@example.kr"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("support@desk.example", "own address"),
        ("billing@desk.example", "own domain"),
        ("MAILER-DAEMON@example.kr", "automated mailbox mailer-daemon"),
        ("no-reply@shop.example", "automated mailbox no-reply"),
        ("owner-list@lists.example", "automated mailbox owner-list"),
        ("minjun@example.kr", None),
    ],
)
def test_block_reason_by_address(address, reason):
    assert automatic_mail_block_reason(address, Flags(), CONFIG) == reason


def test_customer_without_email_on_email_channel_is_suppressed():
    conv = snapshot(email="x@y.example").model_copy(
        update={"customer": snapshot().customer.model_copy(update={"email": None})}
    )
    plan = plan_for("support.conversation.opened", conv)
    assert plan.suppressed[0].reason == "customer has no email"


def test_events_without_mail_produce_an_empty_plan():
    conv = snapshot()
    event = ConversationQueued(
        conversation=conv, occurred_at=datetime.now(UTC), queue="payments", position=3
    )
    assert plan_notifications(event, CONFIG).empty


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("ko-KR",), "ko"),
        (("ko_KR",), "ko"),
        ((None, "EN-us"), "en"),
        (("ja", "ko"), "ko"),
        (("ja",), "en"),
        ((), "en"),
    ],
)
def test_locale_choice(candidates, expected):
    assert choose_locale(candidates, CONFIG) == expected


def test_rate_window():
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert rate_window_cutoff(now, 60) == now - timedelta(minutes=60)
    assert rate_window_cutoff(now, 0) is None
    assert rate_window_allows(None, now, 60)
    assert not rate_window_allows(now - timedelta(minutes=59), now, 60)
    assert rate_window_allows(now - timedelta(minutes=60), now, 60)
    assert rate_window_allows(now - timedelta(minutes=1), now, 0)


def test_webhooks_follow_each_targets_event_types():
    slack = WebhookTarget(name="ops", kind="slack", url="https://hooks.example/T/B/x")
    audit = WebhookTarget(
        name="audit",
        url="https://audit.example/hook",
        secret="s3cret",
        event_types=["support.conversation.assigned", "support.conversation.escalated"],
    )
    config = PlanConfig(webhook_targets=(slack, audit))
    escalated = plan_for("support.conversation.escalated", config=config)
    assigned = plan_for("support.conversation.assigned", config=config)
    opened = plan_for("support.conversation.opened", config=config)
    assert [w.recipient for w in escalated.webhooks] == ["ops", "audit"]
    assert [w.template for w in escalated.webhooks] == ["webhook.slack", "webhook.signed_json"]
    assert [w.recipient for w in assigned.webhooks] == ["audit"]
    assert opened.webhooks == []


def _conversations():
    """Every shape a plan looks at: e-mail, chat with and without a reply path, tagged
    for the assistant, a flagged sender, no assignee or supervisor."""
    email = snapshot()
    chat = snapshot(channel=Channel.CHAT).model_copy(
        update={"reply_path": ReplyPath(provider="telegram", integration="tg", address="42")}
    )
    return [
        email,
        email.model_copy(update={"assignee": None, "supervisor": None}),
        email.model_copy(update={"customer_flags": Flags(auto_submitted=True)}),
        snapshot(channel=Channel.CHAT),
        chat,
        chat.model_copy(update={"tags": ["assistant"]}),
    ]


def _events_of(ce_type: str):
    """The type's event over every conversation shape (built unvalidated: a plan reads
    only the conversation and the type's own fields, which these types do not use)."""
    model = EVENT_TYPES[ce_type]
    return [
        model.model_construct(conversation=conv, occurred_at=datetime.now(UTC))
        for conv in _conversations()
    ]


def test_silent_types_never_plan_anything():
    silent = silent_types(CONFIG)
    assert "support.interaction.routed" in silent
    for ce_type in silent:
        for event in _events_of(ce_type):
            assert plan_notifications(event, CONFIG).empty, ce_type


def test_every_routing_type_is_silent_or_may_hold_a_notice():
    routing = {ce for ce, model in EVENT_TYPES.items() if issubclass(model, RoutingEvent)}
    assert NOTICE_TYPES.issubset(routing)
    assert silent_types(CONFIG) == routing - NOTICE_TYPES
    for ce_type, event in sample_events().items():
        assert ce_type in NOTICE_TYPES
        assert not plan_notifications(event, CONFIG).empty


def test_a_webhook_targets_types_are_not_silent():
    target = WebhookTarget(
        name="audit",
        url="https://audit.example/hook",
        secret="s3cret",
        event_types=["support.conversation.queued"],
    )
    config = PlanConfig(webhook_targets=(target,))
    assert "support.conversation.queued" in silent_types(CONFIG)
    assert "support.conversation.queued" not in silent_types(config)

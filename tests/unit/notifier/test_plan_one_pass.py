"""plan_notifications in one pass (stop 27) against the comprehensions it replaced: the
same plan for every sample event on every channel, with and without a reply path (web
chat, Kakao's webhook-acknowledged callback), the assistant's tag and a flagged sender."""

from __future__ import annotations

import itertools

from libs.common.events import Channel, Flags, ReplyPath
from libs.common.events.routing import ConversationOpened, RoutingEvent
from services.notifier import decisions
from services.notifier.decisions import (
    ASSISTANT_TAG,
    ChatNotice,
    MailNotice,
    Plan,
    PlanConfig,
    Suppression,
    plan_notifications,
    webhooks_for,
)
from services.notifier.samples import sample_events, snapshot
from services.notifier.webhook_targets import WebhookTarget

CONFIG = PlanConfig(
    locales=("en", "ko"),
    default_locale="en",
    own_addresses=frozenset({"support@desk.example"}),
    own_domain="desk.example",
    webhook_targets=(
        WebhookTarget(
            name="ops",
            kind="slack",
            url="https://hooks.example/ops",
            event_types=("support.conversation.opened", "support.sla.breached"),
        ),
    ),
)


def _chat_decision_before(event: RoutingEvent, config: PlanConfig) -> decisions.Decision:
    """The opened conversation's three class patterns as they were."""
    conv = event.conversation
    if conv.channel is Channel.EMAIL:
        return None
    match event:
        case ConversationOpened() if ASSISTANT_TAG in conv.tags:
            return None
        case ConversationOpened() if conv.reply_path and decisions._acknowledged_by_webhook(
            conv.reply_path
        ):
            locale = decisions.choose_locale((conv.language, conv.customer.locale), config)
            return Suppression(
                "chat_ack",
                conv.reply_path.address,
                locale,
                f"{conv.reply_path.provider}: the webhook's own answer acknowledged the "
                "customer; the single-use callback is kept for the agent's reply",
            )
        case ConversationOpened():
            return decisions._customer_chat(
                conv, "chat_ack", "acknowledgement", config, rate_limited=True
            )
        case _:
            return decisions._chat_decision(event, config)


def _plan_before(event: RoutingEvent, config: PlanConfig) -> Plan:
    found = [
        d
        for d in [*decisions._mail_decisions(event, config), _chat_decision_before(event, config)]
        if d is not None
    ]
    return Plan(
        mails=[d for d in found if isinstance(d, MailNotice)],
        webhooks=webhooks_for(event.ce_type, config.webhook_targets),
        suppressed=[d for d in found if isinstance(d, Suppression)],
        chats=[d for d in found if isinstance(d, ChatNotice)],
    )


_PATHS = [
    None,
    ReplyPath(provider="webchat", integration="web", address="v-1"),
    ReplyPath(
        provider="kakao",
        integration="kakao",
        address="user-1",
        callback_url="https://bot-api.kakao.com/callback/1",
    ),
]


def test_every_sample_event_gets_the_plan_the_comprehensions_made():
    seen = {ChatNotice: 0, MailNotice: 0, Suppression: 0}
    for channel, path, tags, flagged in itertools.product(
        list(Channel), _PATHS, ([], [ASSISTANT_TAG]), (False, True)
    ):
        conversation = snapshot(channel=channel).model_copy(
            update={
                "reply_path": path,
                "tags": tags,
                "customer_flags": Flags(auto_reply=True) if flagged else Flags(),
            }
        )
        for event in sample_events(conversation).values():
            plan = plan_notifications(event, CONFIG)
            assert plan == _plan_before(event, CONFIG), (event.ce_type, channel, path, tags)
            for notice in (*plan.mails, *plan.suppressed, *plan.chats):
                seen[type(notice)] += 1
    assert all(seen.values())  # every kind of decision was compared

"""The notifier delivers the assistant's answer on the customer's chat channel (issue #13)."""

from __future__ import annotations

from libs.common.events import Channel, ConversationOpened, NotificationStatus
from libs.common.events.assistant import AssistantReplyRequested
from services.notifier.decisions import ChatNotice, PlanConfig, plan_notifications
from services.notifier.samples import T0
from tests.unit.notifier.test_chat_dispatch import PATH, ChatWorld, chat_events

LABELS = ["도움이 됐어요", "상담원 연결"]


def answer_event(language: str = "ko") -> AssistantReplyRequested:
    conv = chat_events(language="en")["support.reply.requested"].conversation
    return AssistantReplyRequested(
        conversation=conv.model_copy(update={"tags": ["faq", "assistant"]}),
        occurred_at=T0,
        cause_event_id="answered-1",
        answer_event_id="answered-1",
        article_id="withdrawal-pending",
        text="출금은 보통 30분 안에 처리됩니다.\n\n도움이 되었나요?",
        language=language,
        quick_replies=LABELS,
    )


async def test_the_answer_goes_out_with_quick_replies_once_and_is_not_an_agent_reply():
    world = ChatWorld()
    event = answer_event()
    await world.handler.handle("ev-answer", event)
    await world.handler.handle("ev-answer", event)  # redelivered: sent once
    [message] = world.sender.sent
    assert message.text == event.text and message.path == PATH
    assert message.purpose.value == "assistant_answer"  # never stops a response clock
    assert [(q.label, q.payload) for q in message.quick_replies] == [(x, x) for x in LABELS]
    assert message.locale == "ko"  # the answer's language, not the conversation's
    outcome = world.outcomes.published[0]
    assert outcome.status is NotificationStatus.ACCEPTED
    assert outcome.purpose == "assistant_answer" and outcome.reply_id is None


async def test_without_quick_replies_the_text_still_asks_whether_it_helped():
    world = ChatWorld(quick_replies=False)
    await world.handler.handle("ev-answer", answer_event("en"))
    [message] = world.sender.sent
    assert message.quick_replies == [] and "도움이 되었나요?" in message.text


def test_no_chat_acknowledgement_when_the_assistant_answers_first():
    events = chat_events()
    opened = events["support.conversation.opened"]
    assert isinstance(opened, ConversationOpened)
    assert opened.conversation.channel is Channel.CHAT
    assert plan_notifications(opened, PlanConfig()).chats  # a normal chat gets its ack
    held = opened.model_copy(
        update={"conversation": opened.conversation.model_copy(update={"tags": ["assistant"]})}
    )
    assert not plan_notifications(held, PlanConfig()).chats


def test_no_reply_path_is_a_recorded_suppression_not_a_crash():
    event = answer_event()
    event = event.model_copy(
        update={"conversation": event.conversation.model_copy(update={"reply_path": None})}
    )
    plan = plan_notifications(event, PlanConfig())
    assert not [c for c in plan.chats if isinstance(c, ChatNotice)]
    assert plan.suppressed[0].template == "assistant_answer"

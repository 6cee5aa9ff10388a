"""One realistic routing event per type, for template previews and the benchmark.

``omnidesk notifier render support.conversation.opened --locale ko`` renders
what the customer of this sample would receive.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.common.events import (
    AgentRef,
    AgentReplyRequested,
    CallbackRequested,
    Channel,
    ConversationAssigned,
    ConversationEscalated,
    ConversationOpened,
    ConversationResolved,
    ConversationSnapshot,
    ConversationTransferred,
    CustomerIdentity,
    Priority,
    ResponsePromise,
    RoutingEvent,
    SlaBreached,
    SlaMetric,
    SlaWarning,
)

T0 = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 09:30 KST, a Monday
AGENT = AgentRef(agent_id="a-1", name="이서연", email="seoyeon@desk.example", locale="ko")
OTHER_AGENT = AgentRef(agent_id="a-2", name="Alex Kim", email="alex@desk.example", locale="en")
SUPERVISOR = AgentRef(agent_id="s-1", name="Sam Park", email="sam@desk.example", locale="en")


def snapshot(
    *,
    reference: str = "C-1234",
    language: str = "ko",
    email: str = "minjun.kim@example.kr",
    display_name: str | None = "김민준",
    channel: Channel = Channel.EMAIL,
) -> ConversationSnapshot:
    return ConversationSnapshot(
        conversation_id=f"conv-{reference}",
        reference=reference,
        channel=channel,
        status="open",
        queue="payments",
        priority=Priority.HIGH,
        language=language,
        subject="출금이 안 됩니다" if language == "ko" else "Withdrawal is stuck",
        contact_id="contact-1",
        customer=CustomerIdentity(email=email, display_name=display_name, locale=language),
        assignee=AGENT,
        supervisor=SUPERVISOR,
        last_message_id="abc@mail.example.kr",
        references=["first@mail.example.kr"],
        first_response_due_at=T0 + timedelta(minutes=30),
    )


def sample_events(conversation: ConversationSnapshot | None = None) -> dict[str, RoutingEvent]:
    conv = conversation or snapshot()
    base = {"conversation": conv, "occurred_at": T0}
    events: list[RoutingEvent] = [
        ConversationOpened(
            **base,
            first_response_target_minutes=30,
            first_response_due_at=T0 + timedelta(minutes=30),
            business_hours_note="email-30-minutes: Mon-Fri 09:00-18:00 Asia/Seoul",
            promise=ResponsePromise(
                target_minutes=30,
                due_at=T0 + timedelta(minutes=30),
                open_now=True,
                calendar="kst-business",
                timezone="Asia/Seoul",
            ),
        ),
        ConversationAssigned(**base, agent=AGENT, sticky=True),
        ConversationTransferred(
            **base, from_agent=AGENT, to_agent=OTHER_AGENT, from_queue="payments", to_queue="vip"
        ),
        ConversationEscalated(
            **base,
            step=1,
            metric=SlaMetric.FIRST_RESPONSE,
            from_queue="payments",
            to_queue="payments-escalated",
            from_priority=Priority.HIGH,
            to_priority=Priority.URGENT,
            supervisor=SUPERVISOR,
            reason="first response breached",
        ),
        SlaWarning(
            **base,
            metric=SlaMetric.FIRST_RESPONSE,
            due_at=T0 + timedelta(minutes=30),
            target_minutes=30,
        ),
        SlaBreached(
            **base,
            metric=SlaMetric.FIRST_RESPONSE,
            due_at=T0 + timedelta(minutes=30),
            target_minutes=30,
        ),
        ConversationResolved(**base, resolved_by="a-1", csat_token="tok-123"),  # noqa: S106 - sample
        CallbackRequested(**base, phone="+821012345678", missed_at=T0),
        AgentReplyRequested(
            **base,
            reply_id="r-1",
            agent=AGENT,
            text="안녕하세요 고객님,\n출금 지연은 해결되었습니다.\n\n감사합니다.",
            in_reply_to="abc@mail.example.kr",
            references=["first@mail.example.kr", "abc@mail.example.kr"],
        ),
    ]
    return {event.ce_type: event for event in events}

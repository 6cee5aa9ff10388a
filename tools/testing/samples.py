"""One realistic instance of every event model, for contract tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from libs.common.events import (
    AgentRef,
    AgentReplyRequested,
    Attachment,
    BounceInfo,
    CallbackRequested,
    CallDetails,
    Channel,
    ConversationAssigned,
    ConversationEscalated,
    ConversationOpened,
    ConversationQueued,
    ConversationReopened,
    ConversationResolved,
    ConversationSnapshot,
    ConversationTransferred,
    CustomerIdentity,
    Direction,
    EventModel,
    Flags,
    Interaction,
    InteractionKind,
    InteractionRouted,
    MessageBody,
    NotificationChannel,
    NotificationOutcome,
    NotificationStatus,
    Priority,
    RoutingHints,
    SlaBreached,
    SlaMetric,
    SlaWarning,
    ThreadHints,
)

T0 = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 09:30 KST, a Monday


def email_interaction() -> Interaction:
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support-kr",
        occurred_at=T0,
        received_at=T0 + timedelta(seconds=1),
        customer=CustomerIdentity(
            email="minjun.kim@example.kr", display_name="김민준", locale="ko"
        ),
        thread=ThreadHints(
            message_id="abc@mail.example.kr", references=["x@y"], subject_token=None
        ),
        subject="출금이 안 됩니다",
        body=MessageBody(
            text="안녕하세요, 어제부터 출금이 안 됩니다.", quoted="> 이전 메일", language="ko"
        ),
        attachments=[
            Attachment(
                name="스크린샷.png",
                content_type="image/png",
                size=2048,
                sha256="a" * 64,
                inline=True,
                content_id="img1",
            )
        ],
        routing_hints=RoutingHints(queue="payments", language="ko"),
        provider_message_id="abc@mail.example.kr",
        raw_ref="blob:" + "b" * 64,
    )


def missed_call() -> Interaction:
    return Interaction(
        channel=Channel.PHONE,
        provider="twilio",
        integration="kr-main",
        kind=InteractionKind.CALL_MISSED,
        occurred_at=T0,
        received_at=T0,
        customer=CustomerIdentity(phone="+821012345678"),
        call=CallDetails(
            call_id="CA0123",
            from_number="+821012345678",
            to_number="+8215880000",
            status="missed",
            provider_status="no-answer",
            duration_seconds=0,
            callback_requested=True,
        ),
    )


def bounce() -> Interaction:
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support-kr",
        occurred_at=T0,
        received_at=T0,
        customer=CustomerIdentity(email="mailer-daemon@example.kr"),
        flags=Flags(bounce=True, auto_submitted=True),
        bounce=BounceInfo(
            failed_recipients=["gone@example.kr"],
            original_message_id="m1@omni",
            status="5.1.1",
            action="failed",
        ),
    )


def outbound_chat() -> Interaction:
    return Interaction(
        channel=Channel.CHAT,
        provider="channeltalk",
        integration="ct",
        occurred_at=T0,
        received_at=T0,
        direction=Direction.OUTBOUND,
        customer=CustomerIdentity(handle="channeltalk:u-77"),
        thread=ThreadHints(provider_thread_id="chat-9"),
        body=MessageBody(text="확인해 드릴게요"),
    )


AGENT = AgentRef(agent_id="a-1", name="이서연", email="seoyeon@desk.example", locale="ko")
SUPERVISOR = AgentRef(agent_id="s-1", name="Sam", email="sam@desk.example", locale="en")


def snapshot() -> ConversationSnapshot:
    return ConversationSnapshot(
        conversation_id="conv-1",
        reference="C-1234",
        channel=Channel.EMAIL,
        status="open",
        queue="payments",
        priority=Priority.HIGH,
        language="ko",
        subject="출금이 안 됩니다",
        contact_id="contact-1",
        customer=CustomerIdentity(email="minjun.kim@example.kr"),
        assignee=AGENT,
        supervisor=SUPERVISOR,
        last_message_id="abc@mail.example.kr",
        first_response_due_at=T0 + timedelta(minutes=30),
    )


def routing_events() -> list[EventModel]:
    conv, due = snapshot(), T0 + timedelta(minutes=30)
    common = {"conversation": conv, "occurred_at": T0, "cause_event_id": "e-1"}
    return [
        InteractionRouted(**common, interaction_id="e-1", opened_conversation=True),
        ConversationOpened(
            **common,
            first_response_target_minutes=30,
            first_response_due_at=due,
            business_hours_note="평일 09:00-18:00 (KST)",
        ),
        ConversationQueued(**common, queue="payments", position=3),
        ConversationAssigned(**common, agent=AGENT, sticky=True),
        ConversationTransferred(
            **common,
            from_agent=AGENT,
            to_agent=SUPERVISOR,
            from_queue="payments",
            to_queue="vip",
            by="s-1",
        ),
        ConversationEscalated(
            **common,
            step=1,
            metric=SlaMetric.FIRST_RESPONSE,
            from_queue="payments",
            to_queue="escalations",
            from_priority=Priority.HIGH,
            to_priority=Priority.URGENT,
            supervisor=SUPERVISOR,
            reason="first response breached",
        ),
        ConversationResolved(**common, resolved_by="a-1", csat_token="tok"),  # noqa: S106,
        ConversationReopened(**common, reason="customer replied"),
        SlaWarning(**common, metric=SlaMetric.FIRST_RESPONSE, due_at=due, target_minutes=30),
        SlaBreached(**common, metric=SlaMetric.FIRST_RESPONSE, due_at=due, target_minutes=30),
        CallbackRequested(**common, phone="+821012345678", missed_at=T0),
        AgentReplyRequested(
            **common,
            reply_id="r-1",
            agent=AGENT,
            text="확인 중입니다.",
            in_reply_to="abc@mail.example.kr",
            references=["abc@mail.example.kr"],
        ),
    ]


def notification() -> NotificationOutcome:
    return NotificationOutcome(
        routing_event_id="r-e-1",
        routing_event_type="support.conversation.assigned",
        conversation_id="conv-1",
        channel=NotificationChannel.SMTP,
        recipient="seoyeon@desk.example",
        template="assigned",
        locale="ko",
        status=NotificationStatus.SENT,
        message_id="n1@desk.example",
        occurred_at=T0,
    )


def all_events() -> list[EventModel]:
    return [
        email_interaction(),
        missed_call(),
        bounce(),
        outbound_chat(),
        *routing_events(),
        notification(),
    ]


def ce_type_of(event: EventModel) -> str:
    return event.event_type() if isinstance(event, Interaction) else event.ce_type

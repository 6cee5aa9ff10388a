"""Acknowledgements rendered from REAL router events (both stores), not hand-made samples.

Regression for issue #12: the English acknowledgement rendered from a router
event read "We aim to send a first response email-30-minutes: Mon-Fri
09:00-18:00 Asia/Seoul." — the operator's policy note pasted into a sentence.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ReplyPath,
    ThreadHints,
)
from libs.common.events.registry import model_for
from services.notifier.chat import StaticChatSenders
from services.notifier.compose import ComposeConfig, Composer
from services.notifier.decisions import PlanConfig, plan_notifications
from services.notifier.mail import MailIdentity
from services.notifier.rendering import Renderer, template_context
from services.router.service.interactions import Incoming, route_batch
from services.router.store.models import OutboxRow

pytestmark = pytest.mark.integration


def mail(clock, email: str) -> Interaction:
    now = clock()
    return Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(email=email),
        subject="Deposit missing",
        body=MessageBody(text="My deposit has not arrived."),
        thread=ThreadHints(message_id=f"{email}@mail"),
    )


def telegram(clock) -> Interaction:
    now = clock()
    return Interaction(
        channel=Channel.CHAT,
        provider="telegram",
        integration="tg-main",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(handle="telegram:777000", display_name="Minjun", locale="ko"),
        thread=ThreadHints(provider_thread_id="777000"),
        body=MessageBody(text="입금이 안 됐어요"),
        reply_path=ReplyPath(provider="telegram", integration="tg-main", address="777000"),
    )


async def opened_event(ctx, event_id: str):
    async with ctx.uow.reader() as uow:
        rows = (await uow.session.execute(OutboxRow.__table__.select())).mappings().all()
    [row] = [r for r in rows if r["ce_type"] == "support.conversation.opened"]
    return model_for(row["ce_type"]).model_validate_json(row["payload"])


def render_ack(event, locale: str) -> str:
    renderer = Renderer(display_timezone="Asia/Seoul")
    context = template_context(event, recipient_name=None, brand="CoinDesk")
    return renderer.render("customer_ack", locale, context).text


async def test_english_ack_from_a_real_event_states_the_promise_in_words(ctx, clock):
    await route_batch(ctx, [Incoming("m-1", mail(clock, "buyer@example.com"))])  # Wed 10:00 KST
    event = await opened_event(ctx, "m-1")
    assert event.promise.open_now and event.promise.timezone == "Asia/Seoul"
    text = render_ack(event, "en")
    assert "We aim to answer within 30 minutes of business hours: by 10:30 Wednesday KST." in text
    assert "email-30-minutes" not in text and "first response email" not in text
    assert "30분 이내, 수요일 10:30 (KST)까지" in render_ack(event, "ko")


async def test_out_of_hours_ack_says_we_are_closed_and_when_to_expect_an_answer(ctx, clock):
    clock.set(datetime(2026, 3, 7, 2, 0, tzinfo=UTC))  # Saturday 11:00 KST
    await route_batch(ctx, [Incoming("m-2", mail(clock, "weekend@example.com"))])
    event = await opened_event(ctx, "m-2")
    assert not event.promise.open_now
    assert "We are closed now; expect an answer by 09:30 Monday KST." in render_ack(event, "en")
    assert "지금은 영업시간이 아닙니다. 월요일 09:30 (KST)까지" in render_ack(event, "ko")


async def test_chat_ack_from_a_real_event_goes_to_the_reply_path_in_korean(ctx, clock):
    await route_batch(ctx, [Incoming("tg-1", telegram(clock))])
    event = await opened_event(ctx, "tg-1")
    [notice] = plan_notifications(event, PlanConfig()).chats
    assert notice.path.address == "777000" and notice.locale == "ko"
    composer = Composer(
        ComposeConfig(MailIdentity("s@desk.example", "CoinDesk", "desk.example"), "x", "k"),
        Renderer(display_timezone="Asia/Seoul"),
    )
    message = composer.chat_message("ev", event, notice, quick_replies=False)
    assert StaticChatSenders({}, {}).has_quick_replies("telegram") is False
    assert message.text.startswith("CoinDesk에 문의해 주셔서 감사합니다. 접수 번호는 C-1 입니다.")
    assert "5분 이내, 수요일 10:05 (KST)까지 답변드리겠습니다." in message.text
    assert "영업시간" not in message.text  # the chat policy's calendar is always open

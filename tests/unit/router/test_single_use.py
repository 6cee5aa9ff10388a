"""Single-use reply paths (Kakao callback, LINE reply token): pure rules, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.common.events.interaction import Channel, DeliveryState, ReplyPath
from libs.common.events.notification import SingleUsePart
from libs.providers.kakao import outbound as kakao_outbound
from libs.providers.outbound import OutboundMessage, OutboundPurpose, Unsendable
from services.notifier.chat import single_use_part
from services.notifier.decisions import PlanConfig, plan_notifications
from services.notifier.samples import sample_events, snapshot
from services.router.domain.replies import (
    CALLBACK_USED_AT,
    callback_claimant,
    callback_claimed,
    callback_used,
    claim_callback,
    reply_refusal,
    spend_single_use,
)

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
CALLBACK_EXPIRES = NOW + timedelta(minutes=1)
TOKEN_EXPIRES = NOW + timedelta(seconds=30)


def kakao_path(**extra) -> dict:
    path = ReplyPath(
        provider="kakao",
        integration="kakao-main",
        address="user-key-1",
        callback_url="https://bot-api.kakao.com/callback/abc",
        callback_expires_at=CALLBACK_EXPIRES,
    )
    return {**path.model_dump(mode="json", exclude_none=True), **extra}


def line_path() -> dict:
    path = ReplyPath(
        provider="line",
        integration="line-main",
        address="U1234",
        reply_token="token-1",
        reply_token_expires_at=TOKEN_EXPIRES,
    )
    return path.model_dump(mode="json", exclude_none=True)


def refusal_for(stored: dict, now: datetime = NOW):
    return reply_refusal(
        channel=Channel.CHAT,
        provider=stored["provider"],
        reply_path=ReplyPath.model_validate(stored),
        customer_email=None,
        text="확인했습니다",
        now=now,
        limits={"kakao": 1000, "line": 5000},
        callback_used=callback_used(stored),
    )


def test_a_used_kakao_callback_is_refused_as_used_and_expired_at_its_use():
    used_at = NOW + timedelta(seconds=5)
    spent = spend_single_use(
        kakao_path(), SingleUsePart(part="callback", expires_at=CALLBACK_EXPIRES), used_at
    )
    assert spent is not None
    assert spent[CALLBACK_USED_AT] == used_at.isoformat()
    path = ReplyPath.model_validate(spent)
    assert path.callback_url and path.callback_expires_at == used_at  # the notifier's check refuses
    refusal = refusal_for(spent, now=used_at + timedelta(seconds=1))
    assert refusal is not None and (refusal.code, refusal.status) == ("callback_used", 409)
    assert "cannot reply on this channel" in refusal.detail


def test_a_fresh_kakao_callback_is_answerable_and_an_old_one_expired():
    assert refusal_for(kakao_path()) is None
    late = refusal_for(kakao_path(), now=CALLBACK_EXPIRES)
    assert late is not None and late.code == "callback_expired"


def test_spending_twice_or_a_replaced_path_changes_nothing():
    used = SingleUsePart(part="callback", expires_at=CALLBACK_EXPIRES)
    spent = spend_single_use(kakao_path(), used, NOW)
    assert spend_single_use(spent, used, NOW) is None  # a redelivered outcome
    fresh = kakao_path(callback_expires_at=(CALLBACK_EXPIRES + timedelta(minutes=3)).isoformat())
    assert spend_single_use(fresh, used, NOW) is None  # the customer wrote again meanwhile
    assert spend_single_use(None, used, NOW) is None
    assert spend_single_use(line_path(), used, NOW) is None  # no callback there


def test_a_used_line_token_is_dropped_so_the_next_message_is_pushed():
    used = SingleUsePart(part="reply_token", expires_at=TOKEN_EXPIRES)
    spent = spend_single_use(line_path(), used, NOW)
    assert spent is not None
    assert "reply_token" not in spent and "reply_token_expires_at" not in spent
    assert spent["address"] == "U1234"
    assert refusal_for(spent) is None  # LINE still answers, by push
    assert spend_single_use(spent, used, NOW) is None
    newer = {**line_path(), "reply_token": "token-2"}
    newer["reply_token_expires_at"] = (TOKEN_EXPIRES + timedelta(minutes=1)).isoformat()
    assert spend_single_use(newer, used, NOW) is None


def test_the_notifier_names_the_single_use_part_a_message_used():
    kakao = ReplyPath.model_validate(kakao_path())
    assert single_use_part(kakao) == SingleUsePart(part="callback", expires_at=CALLBACK_EXPIRES)
    line = ReplyPath.model_validate(line_path())
    assert single_use_part(line) == SingleUsePart(part="reply_token", expires_at=TOKEN_EXPIRES)
    pushed = ReplyPath(provider="line", integration="line-main", address="U1234")
    assert single_use_part(pushed) is None
    assert single_use_part(ReplyPath(provider="telegram", integration="tg", address="1")) is None
    assert single_use_part(None) is None


def test_a_kakao_conversation_is_not_acknowledged_through_its_callback():
    """chat_ingest's skill answer (useCallback + waiting text) is the acknowledgement."""
    config = PlanConfig(locales=("en", "ko"), default_locale="ko")
    kakao = snapshot(channel=Channel.CHAT).model_copy(
        update={"reply_path": ReplyPath.model_validate(kakao_path())}
    )
    opened = plan_notifications(sample_events(kakao)["support.conversation.opened"], config)
    assert opened.chats == []
    [suppressed] = opened.suppressed  # recorded, never silently dropped
    assert suppressed.template == "chat_ack" and "callback is kept" in suppressed.reason
    reply = plan_notifications(sample_events(kakao)["support.reply.requested"], config)
    assert [c.template for c in reply.chats] == ["customer_reply"]
    line = snapshot(channel=Channel.CHAT).model_copy(
        update={"reply_path": ReplyPath.model_validate(line_path())}
    )
    opened = plan_notifications(sample_events(line)["support.conversation.opened"], config)
    assert [c.template for c in opened.chats] == ["chat_ack"]


def test_a_reply_on_its_way_through_the_callback_holds_it_until_it_fails():
    path = ReplyPath.model_validate(kakao_path())

    def refusal(claimant: DeliveryState | None, now: datetime = NOW):
        return reply_refusal(
            channel=Channel.CHAT,
            provider="kakao",
            reply_path=path,
            customer_email=None,
            text="확인했습니다",
            now=now,
            limits={},
            callback_claimed=callback_claimed(claimant),
        )

    assert refusal(None) is None
    for state in (DeliveryState.QUEUED, DeliveryState.RETRYING, DeliveryState.ACCEPTED):
        held = refusal(state)
        assert held is not None and held.code == "callback_used"
        assert "on its way" in held.detail
    assert refusal(DeliveryState.FAILED) is None  # the callback was not used: answer again
    late = refusal(DeliveryState.QUEUED, now=CALLBACK_EXPIRES)
    assert late is not None and late.code == "callback_expired"  # expiry says more
    claimed = claim_callback(kakao_path(), "reply-1")
    assert callback_claimant(claimed) == "reply-1" and callback_claimant(kakao_path()) is None
    spent = spend_single_use(
        claimed, SingleUsePart(part="callback", expires_at=CALLBACK_EXPIRES), NOW
    )
    assert spent is not None and callback_claimant(spent) == "reply-1"


def test_the_notifier_check_refuses_a_spent_callback_before_any_request():
    """An ack or survey on a used callback: Unsendable, so a visible failed outcome."""
    spent = spend_single_use(
        kakao_path(), SingleUsePart(part="callback", expires_at=CALLBACK_EXPIRES), NOW
    )
    message = OutboundMessage(
        path=ReplyPath.model_validate(spent),
        text="만족도를 알려 주세요",
        idempotency_key="survey-1",
        purpose=OutboundPurpose.CSAT_SURVEY,
    )
    with pytest.raises(Unsendable) as refused:
        kakao_outbound.check(message, integration=None, now=NOW + timedelta(seconds=1))
    assert refused.value.code == "callback_expired"

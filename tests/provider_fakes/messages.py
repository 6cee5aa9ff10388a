"""Outbound messages for tests: one realistic reply per provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from libs.common.events import ReplyPath
from libs.providers.integrations import Provider
from libs.providers.outbound import OutboundMessage, OutboundPurpose, QuickReply

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

#: A recipient each fixture accepts.
ADDRESSES = {
    Provider.TELEGRAM: "421337",
    Provider.WHATSAPP: "821012345678",
    Provider.TWILIO: "+821012345678",
    Provider.LINE: "U" + "4af4980629" * 3 + "ab",
    Provider.SLACK: "C0123456789",
    Provider.CHANNELTALK: "6650f1e2a1b2c3d4e5f6",
    Provider.KAKAO: "kakao-user-key-1",
    Provider.WEBCHAT: "visitor-1",
}

SURVEY = [QuickReply(label=str(n), payload=f"csat:{n}") for n in range(1, 6)]


def reply(
    provider: Provider,
    text: str = "안녕하세요, 문의하신 입금 건 확인했습니다.",
    *,
    key: str = "reply-1",
    quick_replies: list[QuickReply] | None = None,
    last_inbound: datetime | None = None,
    **path: Any,
) -> OutboundMessage:
    return OutboundMessage(
        idempotency_key=key,
        purpose=OutboundPurpose.AGENT_REPLY,
        text=text,
        quick_replies=quick_replies or [],
        path=ReplyPath(
            provider=provider.value,
            integration="main",
            address=path.pop("address", ADDRESSES[provider]),
            **path,
        ),
        locale="ko",
        customer_last_inbound_at=last_inbound or NOW - timedelta(minutes=5),
    )

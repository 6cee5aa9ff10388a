"""Realistic, correctly signed sample webhook requests for every provider.

Used by ``omnidesk chat send-sample`` against a dev server, by the tests and
by ``bench/webhook_load.py``. ``seq`` makes each request a distinct message.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from libs.common.webhooks.signatures import (
    hmac_sha256_base64,
    hmac_sha256_hex,
    slack_signature,
    twilio_signature,
)
from libs.providers.integrations import Provider, webhook_path


@dataclass(frozen=True)
class SampleRequest:
    method: str
    path: str
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def twilio_form(seq: int, *, whatsapp: bool = False) -> list[tuple[str, str]]:
    sender = f"+8210{5550000 + seq % 10_000_000:08d}"
    prefix = "whatsapp:" if whatsapp else ""
    pairs = [
        ("ToCountry", "KR"),
        ("SmsMessageSid", f"SM{seq:032x}"),
        ("NumMedia", "1" if seq % 5 == 0 else "0"),
        ("SmsSid", f"SM{seq:032x}"),
        ("SmsStatus", "received"),
        ("Body", f"주문 {seq} 배송이 언제 되나요? / When will order {seq} ship?"),
        ("To", f"{prefix}+8215880000"),
        ("NumSegments", "1"),
        ("MessageSid", f"SM{seq:032x}"),
        ("AccountSid", "AC" + "0" * 32),
        ("From", f"{prefix}{sender}"),
        ("ApiVersion", "2010-04-01"),
    ]
    if whatsapp:
        pairs.append(("ProfileName", "김민준"))
    if seq % 5 == 0:
        pairs += [
            (
                "MediaUrl0",
                f"https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM{seq}/Media/ME1",
            ),
            ("MediaContentType0", "image/jpeg"),
        ]
    return pairs


def twilio(integration_id: str, secret: str, seq: int, base_url: str) -> SampleRequest:
    path = webhook_path(Provider.TWILIO, integration_id)
    pairs = twilio_form(seq, whatsapp=seq % 2 == 1)
    signature = twilio_signature(secret, base_url.rstrip("/") + path, pairs)
    return SampleRequest(
        "POST",
        path,
        urlencode(pairs).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )


def whatsapp_payload(seq: int) -> dict[str, Any]:
    wa_id = f"8210{5550000 + seq % 10_000_000:08d}"
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": "106540352242922",
                            },
                            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": f"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5{seq:012d}",
                                    "timestamp": str(1_750_000_000 + seq),
                                    "text": {"body": f"Does it come in another colour? #{seq}"},
                                    "type": "text",
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }


def whatsapp(integration_id: str, secret: str, seq: int, base_url: str) -> SampleRequest:
    body = _json(whatsapp_payload(seq))
    return SampleRequest(
        "POST",
        webhook_path(Provider.WHATSAPP, integration_id),
        body,
        {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + hmac_sha256_hex(secret, body),
        },
    )


def telegram_payload(seq: int) -> dict[str, Any]:
    user_id = 100_000_000 + seq % 1_000_000
    return {
        "update_id": 900_000_000 + seq,
        "message": {
            "message_id": 1000 + seq,
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": "Ji-woo",
                "last_name": "Park",
                "username": "jiwoo_park",
                "language_code": "ko",
            },
            "chat": {"id": user_id, "first_name": "Ji-woo", "type": "private"},
            "date": 1_750_000_000 + seq,
            "text": f"환불 요청합니다 (주문 {seq})",
        },
    }


def telegram(integration_id: str, secret: str, seq: int, base_url: str) -> SampleRequest:
    return SampleRequest(
        "POST",
        webhook_path(Provider.TELEGRAM, integration_id),
        _json(telegram_payload(seq)),
        {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
    )


def slack_payload(seq: int) -> dict[str, Any]:
    ts = f"{1_750_000_000 + seq}.{seq % 1_000_000:06d}"
    return {
        "token": "XXYYZZ",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "event": {
            "type": "message",
            "channel": "C2147483705",
            "user": f"U{seq % 100_000:07d}",
            "text": f"Our dashboard shows a 500 error since this morning ({seq})",
            "ts": ts,
            "client_msg_id": f"5bd3b0c4-0000-4000-8000-{seq:012d}",
            "channel_type": "channel",
        },
        "type": "event_callback",
        "event_id": f"Ev{seq:010d}",
        "event_time": 1_750_000_000 + seq,
    }


def slack(integration_id: str, secret: str, seq: int, base_url: str) -> SampleRequest:
    body = _json(slack_payload(seq))
    timestamp = str(int(time.time()))
    return SampleRequest(
        "POST",
        webhook_path(Provider.SLACK, integration_id),
        body,
        {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": slack_signature(secret, timestamp, body),
        },
    )


def line_payload(seq: int) -> dict[str, Any]:
    return {
        "destination": "U" + "f" * 32,
        "events": [
            {
                "type": "message",
                "message": {
                    "type": "text",
                    "id": str(468_789_577_898_262_530 + seq),
                    "quoteToken": "q3Plxr4AgKd",
                    "text": f"配送状況を教えてください {seq}",
                },
                "webhookEventId": f"01H810YECXQQZ37VAXPF6{seq:05d}"[-26:],
                "deliveryContext": {"isRedelivery": False},
                "timestamp": 1_750_000_000_000 + seq,
                "source": {"type": "user", "userId": f"U{seq % 100_000:032x}"},
                "replyToken": "38ef843bde154d9b91c21320ffd17a0f",
                "mode": "active",
            }
        ],
    }


def line(integration_id: str, secret: str, seq: int, base_url: str) -> SampleRequest:
    body = _json(line_payload(seq))
    return SampleRequest(
        "POST",
        webhook_path(Provider.LINE, integration_id),
        body,
        {"Content-Type": "application/json", "X-Line-Signature": hmac_sha256_base64(secret, body)},
    )


def channeltalk_payload(seq: int, *, person_type: str = "user") -> dict[str, Any]:
    user_id = f"5f0c{seq % 100_000:020x}"
    person_id = user_id if person_type == "user" else "manager-42"
    return {
        "event": "push",
        "type": "message",
        "entity": {
            "chatKey": f"userChat-{seq}",
            "id": f"6500{seq:020x}",
            "channelId": "12345",
            "chatType": "userChat",
            "chatId": f"64ff{seq % 100_000:020x}",
            "personType": person_type,
            "personId": person_id,
            "createdAt": 1_750_000_000_000 + seq,
            "plainText": f"결제가 두 번 되었어요 ({seq})",
            "blocks": [{"type": "text", "value": f"결제가 두 번 되었어요 ({seq})"}],
        },
        "refers": {
            "user": {
                "id": user_id,
                "name": "이서연",
                "language": "ko",
                "profile": {"name": "이서연", "mobileNumber": "+821098765432"},
            },
            "userChat": {"id": f"64ff{seq % 100_000:020x}", "userId": user_id},
        },
    }


def channeltalk(integration_id: str, secret: str, seq: int, base_url: str) -> SampleRequest:
    path = webhook_path(Provider.CHANNELTALK, integration_id) + "?" + urlencode({"token": secret})
    return SampleRequest(
        "POST", path, _json(channeltalk_payload(seq)), {"Content-Type": "application/json"}
    )


def kakao_payload(seq: int, *, lang: str = "ko") -> dict[str, Any]:
    return {
        "intent": {"id": "intent-1", "name": "상담 연결"},
        "userRequest": {
            "timezone": "Asia/Seoul",
            "params": {"ignoreMe": "true"},
            "block": {"id": "block-1", "name": "상담 연결"},
            "utterance": f"상담원 연결해 주세요 {seq}",
            "lang": lang,
            "user": {
                "id": f"kakao-user-{seq % 100_000}",
                "type": "botUserKey",
                "properties": {"botUserKey": f"kakao-user-{seq % 100_000}", "isFriend": True},
            },
        },
        "bot": {"id": "5fe45a6ddfbd3c1aff4f2a13", "name": "고객센터"},
        "action": {"name": "omnidesk", "clientExtra": None, "params": {}, "id": "a1"},
    }


def kakao(integration_id: str, secret: str, seq: int, base_url: str) -> SampleRequest:
    return SampleRequest(
        "POST",
        webhook_path(Provider.KAKAO, integration_id),
        _json(kakao_payload(seq)),
        {"Content-Type": "application/json", "X-Omnidesk-Token": secret},
    )


def webchat_payload(seq: int) -> dict[str, Any]:
    return {
        "message_id": f"msg-{seq}",
        "conversation_id": f"conv-{seq % 1000}",
        "visitor": {"id": f"visitor-{seq % 1000}", "name": "Alex Kim", "locale": "en-US"},
        "text": f"Hi, I cannot log in to my account ({seq})",
        "sent_at": "2026-01-05T09:30:00+09:00",
    }


def webchat(integration_id: str, secret: str, seq: int, base_url: str) -> SampleRequest:
    body = _json(webchat_payload(seq))
    return SampleRequest(
        "POST",
        webhook_path(Provider.WEBCHAT, integration_id),
        body,
        {
            "Content-Type": "application/json",
            "X-Omnidesk-Signature": "sha256=" + hmac_sha256_hex(secret, body),
        },
    )


BUILDERS = {
    Provider.TWILIO: twilio,
    Provider.WHATSAPP: whatsapp,
    Provider.TELEGRAM: telegram,
    Provider.SLACK: slack,
    Provider.LINE: line,
    Provider.CHANNELTALK: channeltalk,
    Provider.KAKAO: kakao,
    Provider.WEBCHAT: webchat,
}


def sample_request(
    provider: Provider, *, integration_id: str, secret: str, seq: int, base_url: str
) -> SampleRequest:
    """A signed request; ``base_url`` matters for Twilio, which signs the public URL."""
    return BUILDERS[provider](integration_id, secret, seq, base_url)

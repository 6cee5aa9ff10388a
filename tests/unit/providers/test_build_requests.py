"""Every provider's ``build_request``: the documented request, as plain data (no I/O)."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta

import pytest
from pydantic import SecretStr

from libs.providers import channeltalk, kakao, line, slack, telegram, twilio, whatsapp
from libs.providers.integrations import Integration, OutboundCredentials, Provider
from libs.providers.outbound import Unsendable
from tests.provider_fakes.messages import NOW, SURVEY, reply


def integration(provider: Provider, **outbound: object) -> Integration:
    return Integration(
        id="main",
        provider=provider,
        secret=SecretStr("inbound-secret"),
        api_key=SecretStr("k") if provider is Provider.WEBCHAT else None,
        outbound=OutboundCredentials(**outbound),  # type: ignore[arg-type]
    )


TELEGRAM = integration(Provider.TELEGRAM, token="123:abc")
WHATSAPP = integration(
    Provider.WHATSAPP, token="EAAG", phone_number_id="1065", window_template="omnidesk_reply"
)
TWILIO = integration(
    Provider.TWILIO, account_sid="AC1", auth_token="tok", from_number="+15005550006"
)
LINE = integration(Provider.LINE, token="line-token")
SLACK = integration(Provider.SLACK, token="xoxb-1")
CHANNELTALK = integration(Provider.CHANNELTALK, access_key="ak", access_secret="as")


def test_telegram_send_message_with_inline_keyboard_and_topic() -> None:
    message = reply(Provider.TELEGRAM, quick_replies=SURVEY, thread="7")
    request = telegram.build_request(message, TELEGRAM)
    assert request.url == "https://api.telegram.org/bot123:abc/sendMessage"
    body = request.json_body
    assert body["chat_id"] == "421337" and body["text"] == message.text
    assert body["message_thread_id"] == 7
    rows = body["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for row in rows for b in row] == [f"csat:{n}" for n in range(1, 6)]
    assert all(len(row) <= 3 for row in rows)


def test_telegram_callback_data_over_64_bytes_is_unsendable() -> None:
    long = SURVEY[:1]
    long[0] = long[0].model_copy(update={"payload": "x" * 65})
    with pytest.raises(Unsendable) as caught:
        telegram.outbound.check(reply(Provider.TELEGRAM, quick_replies=long), TELEGRAM, NOW)
    assert caught.value.code == "quick_reply_too_long" and caught.value.limit == 64


def test_whatsapp_text_inside_the_window() -> None:
    request = whatsapp.outbound.build_request(reply(Provider.WHATSAPP), WHATSAPP, now=NOW)
    assert request.url == "https://graph.facebook.com/v21.0/1065/messages"
    assert request.headers["Authorization"] == "Bearer EAAG"
    assert request.json_body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "821012345678",
        "type": "text",
        "text": {"preview_url": False, "body": reply(Provider.WHATSAPP).text},
    }


def test_whatsapp_buttons_for_three_quick_replies_and_a_list_for_more() -> None:
    three = whatsapp.outbound.build_request(
        reply(Provider.WHATSAPP, quick_replies=SURVEY[:3]), WHATSAPP, now=NOW
    ).json_body
    assert three["type"] == "interactive" and three["interactive"]["type"] == "button"
    assert [b["reply"]["id"] for b in three["interactive"]["action"]["buttons"]] == [
        "csat:1",
        "csat:2",
        "csat:3",
    ]
    five = whatsapp.outbound.build_request(
        reply(Provider.WHATSAPP, quick_replies=SURVEY), WHATSAPP, now=NOW
    ).json_body
    assert five["interactive"]["type"] == "list"
    assert len(five["interactive"]["action"]["sections"][0]["rows"]) == 5


def test_whatsapp_outside_the_window_sends_the_configured_template() -> None:
    stale = reply(Provider.WHATSAPP, last_inbound=NOW - timedelta(hours=25))
    body = whatsapp.outbound.build_request(stale, WHATSAPP, now=NOW).json_body
    assert body["type"] == "template"
    assert body["template"]["name"] == "omnidesk_reply"
    assert body["template"]["components"][0]["parameters"][0]["text"] == stale.text


def test_whatsapp_outside_the_window_without_template_is_window_closed() -> None:
    bare = integration(Provider.WHATSAPP, token="EAAG", phone_number_id="1065")
    stale = reply(Provider.WHATSAPP, last_inbound=NOW - timedelta(hours=24, seconds=1))
    with pytest.raises(Unsendable) as caught:
        whatsapp.outbound.check(stale, bare, NOW)
    assert caught.value.code == "window_closed"
    whatsapp.outbound.check(reply(Provider.WHATSAPP), bare, NOW)  # inside: fine


def test_twilio_form_with_basic_auth_and_status_callback() -> None:
    with_callback = TWILIO.model_copy(
        update={
            "outbound": TWILIO.outbound.model_copy(
                update={"status_callback_url": "https://hooks.example.com/webhooks/twilio/main"}
            )
        }
    )
    request = twilio.outbound.build_request(reply(Provider.TWILIO), with_callback)
    assert request.url == "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"AC1:tok").decode()
    assert request.form_body == {
        "To": "+821012345678",
        "From": "+15005550006",
        "Body": reply(Provider.TWILIO).text,
        "StatusCallback": "https://hooks.example.com/webhooks/twilio/main",
    }
    assert request.json_body is None


def test_twilio_whatsapp_numbers_carry_the_prefix_on_both_ends() -> None:
    message = reply(Provider.TWILIO, address="whatsapp:+821012345678")
    form = twilio.outbound.build_request(message, TWILIO).form_body
    assert form["To"] == "whatsapp:+821012345678"
    assert form["From"] == "whatsapp:+15005550006"


def test_line_reply_token_while_fresh_else_push_with_retry_key() -> None:
    fresh = reply(
        Provider.LINE,
        quick_replies=SURVEY,
        reply_token="rt-1",
        reply_token_expires_at=NOW + timedelta(seconds=10),
    )
    request = line.outbound.build_request(fresh, LINE, now=NOW)
    assert request.url == "https://api.line.me/v2/bot/message/reply"
    assert request.json_body["replyToken"] == "rt-1"
    items = request.json_body["messages"][0]["quickReply"]["items"]
    assert [i["action"]["data"] for i in items] == [f"csat:{n}" for n in range(1, 6)]
    expired = line.outbound.build_request(fresh, LINE, now=NOW + timedelta(seconds=11))
    assert expired.url == "https://api.line.me/v2/bot/message/push"
    assert expired.json_body["to"] == fresh.path.address
    key = expired.headers["X-Line-Retry-Key"]
    assert uuid.UUID(key) and key == line.outbound.retry_key(fresh)  # stable per message


def test_slack_post_message_in_thread_with_buttons() -> None:
    message = reply(Provider.SLACK, thread="1700000000.000100", quick_replies=SURVEY)
    request = slack.outbound.build_request(message, SLACK)
    assert request.url == "https://slack.com/api/chat.postMessage"
    assert request.headers["Authorization"] == "Bearer xoxb-1"
    body = request.json_body
    assert body["channel"] == "C0123456789" and body["thread_ts"] == "1700000000.000100"
    buttons = body["blocks"][1]["elements"]
    assert [b["value"] for b in buttons] == [f"csat:{n}" for n in range(1, 6)]


def test_channeltalk_message_into_the_user_chat() -> None:
    request = channeltalk.outbound.build_request(reply(Provider.CHANNELTALK), CHANNELTALK)
    assert request.url == (
        "https://api.channel.io/open/v5/user-chats/6650f1e2a1b2c3d4e5f6/messages"
    )
    assert request.headers == {"x-access-key": "ak", "x-access-secret": "as"}
    assert request.json_body == {
        "blocks": [{"type": "text", "value": reply(Provider.CHANNELTALK).text}]
    }


def test_kakao_skill_response_to_the_callback_url() -> None:
    message = reply(
        Provider.KAKAO,
        quick_replies=SURVEY,
        callback_url="https://bot-api.kakao.com/v1/callback/abc",
        callback_expires_at=NOW + timedelta(seconds=30),
    )
    kakao.outbound.check(message, integration(Provider.KAKAO), NOW)
    request = kakao.outbound.build_request(message, integration(Provider.KAKAO))
    assert request.url == "https://bot-api.kakao.com/v1/callback/abc"
    template = request.json_body["template"]
    assert request.json_body["version"] == "2.0"
    assert template["outputs"] == [{"simpleText": {"text": message.text}}]
    assert template["quickReplies"][0] == {
        "label": "1",
        "action": "message",
        "messageText": "csat:1",
    }


@pytest.mark.parametrize(
    ("parts", "code"),
    [
        ({}, "no_reply_path"),
        (
            {
                "callback_url": "https://bot-api.kakao.com/v1/callback/abc",
                "callback_expires_at": NOW - timedelta(seconds=1),
            },
            "callback_expired",
        ),
    ],
)
def test_kakao_without_a_valid_callback_cannot_be_answered(parts: dict, code: str) -> None:
    with pytest.raises(Unsendable) as caught:
        kakao.outbound.check(reply(Provider.KAKAO, **parts), integration(Provider.KAKAO), NOW)
    assert caught.value.code == code

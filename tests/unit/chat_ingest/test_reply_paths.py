"""Inbound messages carry how to answer them; provider status webhooks carry receipts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from libs.common.events import DeliveryState, Direction, InteractionKind
from libs.common.webhooks.signatures import hmac_sha256_hex
from libs.providers.integrations import Provider, webhook_path
from libs.providers.webchat.visitor import verify_visitor_token
from services.chat_ingest.samples import SampleRequest, telegram_payload
from tests.helpers.chat_ingest import BASE_URL, SECRETS, make_integrations, send, signed
from tests.provider_fakes.twilio import TwilioFake
from tests.provider_fakes.whatsapp import WhatsAppFake


@pytest.mark.parametrize("provider", list(Provider))
async def test_every_inbound_message_carries_a_reply_path(client, producer, provider):
    response = await send(client, signed(provider, seq=1))
    assert response.status_code in (200, 202), response.text
    data = producer.sent[0][1].data
    assert data.direction is Direction.INBOUND
    path = data.reply_path
    assert path is not None, f"{provider} message without a reply path"
    assert (path.provider, path.integration) == (provider.value, "main")
    assert path.address


async def test_line_reply_token_and_its_expiry_are_kept(client, producer):
    await send(client, signed(Provider.LINE, seq=3))
    path = producer.sent[0][1].data.reply_path
    assert path.reply_token and path.reply_token_expires_at > producer.sent[0][1].data.received_at


async def test_slack_reply_goes_into_the_thread(client, producer):
    await send(client, signed(Provider.SLACK, seq=4))
    data = producer.sent[0][1].data
    assert data.reply_path.thread == data.thread.provider_thread_id.split(":", 1)[1]


def whatsapp_fake() -> WhatsAppFake:
    return WhatsAppFake(app_secret=SECRETS[Provider.WHATSAPP])


async def test_whatsapp_delivered_status_becomes_a_receipt_once(client, producer):
    fake = whatsapp_fake()
    body, headers = fake.status_webhook([fake.status("wamid.OURS1", "delivered", "821012345678")])
    path = webhook_path(Provider.WHATSAPP, "main")
    first = await client.post(path, content=body, headers=headers)
    again = await client.post(path, content=body, headers=headers)  # Meta retries
    assert first.status_code == again.status_code == 200
    assert len(producer.sent) == 1
    data = producer.sent[0][1].data
    assert data.kind is InteractionKind.DELIVERY_STATUS and data.direction is Direction.OUTBOUND
    assert data.receipt.provider_message_id == "wamid.OURS1"
    assert data.receipt.state is DeliveryState.DELIVERED
    assert data.reply_path is None


async def test_whatsapp_failed_status_keeps_the_error_code(client, producer):
    fake = whatsapp_fake()
    error = {"code": 131047, "message": "Re-engagement message"}
    status = fake.status("wamid.OURS2", "failed", "821012345678", errors=[error])
    body, headers = fake.status_webhook([status])
    await client.post(webhook_path(Provider.WHATSAPP, "main"), content=body, headers=headers)
    receipt = producer.sent[0][1].data.receipt
    assert receipt.state is DeliveryState.FAILED and receipt.error_code == "131047"


async def test_whatsapp_read_and_delivered_of_one_message_are_two_events(client, producer):
    fake = whatsapp_fake()
    for state in ("delivered", "read"):
        body, headers = fake.status_webhook([fake.status("wamid.OURS3", state, "821012345678")])
        await client.post(webhook_path(Provider.WHATSAPP, "main"), content=body, headers=headers)
    states = [e.data.receipt.state for _, e, _ in producer.sent]
    assert states == [DeliveryState.DELIVERED, DeliveryState.READ]
    assert producer.sent[0][1].id != producer.sent[1][1].id


async def test_twilio_status_callback_becomes_a_receipt(client, producer):
    fake = TwilioFake(auth_token=SECRETS[Provider.TWILIO])
    path = webhook_path(Provider.TWILIO, "main")
    params, headers = fake.status_callback(
        BASE_URL + path, "SM" + "a" * 32, "delivered", "+821012345678"
    )
    response = await client.post(path, data=params, headers=headers)
    assert response.status_code == 200, response.text
    data = producer.sent[0][1].data
    assert data.kind is InteractionKind.DELIVERY_STATUS
    assert data.receipt.provider_message_id == "SM" + "a" * 32
    assert data.receipt.state is DeliveryState.DELIVERED


async def test_telegram_pressed_button_arrives_as_the_customers_answer(client, producer):
    update = telegram_payload(5)
    message = update.pop("message")
    update["callback_query"] = {
        "id": "cb-5",
        "from": message["from"],
        "message": message,
        "data": "csat:5",
    }
    body = json.dumps(update).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": SECRETS[Provider.TELEGRAM],
    }
    request = SampleRequest("POST", webhook_path(Provider.TELEGRAM, "main"), body, headers)
    assert (await send(client, request)).status_code == 200
    data = producer.sent[0][1].data
    assert data.body.text == "csat:5" and data.reply_path.address == str(message["chat"]["id"])


async def test_webchat_answer_carries_a_visitor_token_for_the_outbox(client, producer):
    response = await send(client, signed(Provider.WEBCHAT, seq=1))
    assert response.status_code == 202
    token = response.json()["visitor_token"]
    integration = next(i for i in make_integrations() if i.provider is Provider.WEBCHAT)
    claims = verify_visitor_token(integration, token, now=datetime.now(UTC))
    assert claims.visitor == producer.sent[0][1].data.reply_path.address


async def test_kakao_with_a_callback_answers_use_callback_and_keeps_it(client, producer):
    request = signed(Provider.KAKAO, seq=2)
    payload = json.loads(request.content)
    payload["userRequest"]["callbackUrl"] = "https://bot-api.kakao.com/v1/callback/abc"
    body = json.dumps(payload).encode()
    response = await client.post(request.path, content=body, headers=request.headers)
    assert response.json() == {
        "version": "2.0",
        "useCallback": True,
        "data": {"text": "메시지를 받았습니다. 상담원이 곧 답변드리겠습니다."},
    }
    path = producer.sent[0][1].data.reply_path
    assert path.callback_url == "https://bot-api.kakao.com/v1/callback/abc"
    assert path.callback_expires_at is not None


async def test_unsigned_status_webhook_is_refused(client, producer):
    fake = whatsapp_fake()
    body, _ = fake.status_webhook([fake.status("wamid.X", "delivered", "821012345678")])
    forged = "sha256=" + hmac_sha256_hex("not-the-app-secret", body)
    response = await client.post(
        webhook_path(Provider.WHATSAPP, "main"),
        content=body,
        headers={"content-type": "application/json", "x-hub-signature-256": forged},
    )
    assert response.status_code == 401 and producer.sent == []


async def test_whatsapp_pressed_button_arrives_as_its_payload(client, producer):
    from services.chat_ingest.samples import whatsapp_payload

    payload = whatsapp_payload(6)
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text", None)
    message["type"] = "interactive"
    message["interactive"] = {
        "type": "button_reply",
        "button_reply": {"id": "csat:4", "title": "만족"},
    }
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac_sha256_hex(SECRETS[Provider.WHATSAPP], body)
    response = await client.post(
        webhook_path(Provider.WHATSAPP, "main"),
        content=body,
        headers={"content-type": "application/json", "x-hub-signature-256": signature},
    )
    assert response.status_code == 200
    assert producer.sent[0][1].data.body.text == "csat:4"

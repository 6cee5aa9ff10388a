"""Every provider route: signed → event published and 2xx; unsigned/wrong → 401, no event."""

from __future__ import annotations

import dataclasses

import pytest

from libs.common.webhooks.metrics import WEBHOOK_REJECTIONS
from libs.providers.integrations import Provider
from tests.helpers.chat_ingest import send, signed

#: The header (or query parameter) that authenticates each provider's request.
AUTH_HEADERS = {
    Provider.TWILIO: "X-Twilio-Signature",
    Provider.WHATSAPP: "X-Hub-Signature-256",
    Provider.TELEGRAM: "X-Telegram-Bot-Api-Secret-Token",
    Provider.SLACK: "X-Slack-Signature",
    Provider.LINE: "X-Line-Signature",
    Provider.KAKAO: "X-Omnidesk-Token",
    Provider.WEBCHAT: "X-Omnidesk-Signature",
}


@pytest.mark.parametrize("provider", list(Provider))
async def test_signed_request_publishes_one_event(client, producer, provider):
    response = await send(client, signed(provider))
    assert response.status_code in (200, 202), response.text
    assert len(producer.sent) == 1
    topic, event, key = producer.sent[0]
    assert topic == "support.interactions.v1"
    assert event.data.provider == provider.value
    assert event.data.integration == "main"
    assert event.data.channel == "chat"
    assert event.data.routing_hints.queue == f"{provider.value}-queue"
    assert event.data.routing_hints.brand == "acme"
    assert key == event.data.customer_key
    assert event.source == f"omnidesk/chat_ingest/{provider.value}/main"


@pytest.mark.parametrize("provider", list(Provider))
async def test_same_request_twice_is_acked_without_a_second_event(client, producer, provider):
    request = signed(provider, seq=7)
    first = await send(client, request)
    second = await send(client, signed(provider, seq=7))
    assert first.status_code == second.status_code
    assert second.status_code in (200, 202)
    assert len(producer.sent) == 1


@pytest.mark.parametrize("provider", [p for p in Provider if p in AUTH_HEADERS])
async def test_wrong_signature_is_401_without_event(client, producer, provider):
    request = signed(provider)
    header = AUTH_HEADERS[provider]
    value = request.headers[header]
    tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    before = WEBHOOK_REJECTIONS.labels(provider.value, "bad_signature")._value.get()
    response = await send(
        client, dataclasses.replace(request, headers={**request.headers, header: tampered})
    )
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert response.json()["provider"] == provider.value
    assert producer.sent == []
    assert WEBHOOK_REJECTIONS.labels(provider.value, "bad_signature")._value.get() == before + 1


@pytest.mark.parametrize("provider", [p for p in Provider if p in AUTH_HEADERS])
async def test_missing_signature_is_401(client, producer, provider):
    request = signed(provider)
    headers = {k: v for k, v in request.headers.items() if k != AUTH_HEADERS[provider]}
    response = await send(client, dataclasses.replace(request, headers=headers))
    assert response.status_code == 401
    assert producer.sent == []


async def test_channeltalk_wrong_token_is_401(client, producer):
    request = signed(Provider.CHANNELTALK)
    path = request.path.replace("token=", "token=x")
    response = await send(client, dataclasses.replace(request, path=path))
    assert response.status_code == 401
    assert producer.sent == []


@pytest.mark.parametrize("provider", [Provider.WHATSAPP, Provider.LINE, Provider.WEBCHAT])
async def test_body_changed_after_signing_is_401(client, producer, provider):
    request = signed(provider)
    response = await send(client, dataclasses.replace(request, content=request.content + b" "))
    assert response.status_code == 401
    assert producer.sent == []


async def test_slack_stale_timestamp_is_401(client, producer):
    from libs.common.webhooks import slack_signature
    from tests.helpers.chat_ingest import SECRETS

    request = signed(Provider.SLACK)
    stale = str(int(request.headers["X-Slack-Request-Timestamp"]) - 301)
    headers = {
        **request.headers,
        "X-Slack-Request-Timestamp": stale,
        "X-Slack-Signature": slack_signature(SECRETS[Provider.SLACK], stale, request.content),
    }
    response = await send(client, dataclasses.replace(request, headers=headers))
    assert response.status_code == 401
    assert producer.sent == []


async def test_webchat_accepts_bearer_api_key(client, producer):
    request = signed(Provider.WEBCHAT)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer webchat-api-key"}
    response = await send(client, dataclasses.replace(request, headers=headers))
    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    wrong = {**headers, "Authorization": "Bearer nope"}
    assert (await send(client, dataclasses.replace(request, headers=wrong))).status_code == 401


async def test_twilio_answers_empty_twiml(client):
    response = await send(client, signed(Provider.TWILIO))
    assert response.headers["content-type"].startswith("application/xml")
    assert response.text.endswith("<Response/>")


async def test_twilio_behind_trusted_proxy(settings, producer):
    """Twilio signed https://hooks.example.com/…; the app sees http://chat.test/…."""
    import httpx

    from services.chat_ingest.bootstrap import create_app
    from services.chat_ingest.samples import sample_request
    from tests.helpers.chat_ingest import SECRETS

    public = "https://hooks.example.com"
    request = sample_request(
        Provider.TWILIO,
        integration_id="main",
        secret=SECRETS[Provider.TWILIO],
        seq=3,
        base_url=public,
    )
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hooks.example.com"}
    for trust, expected in ((False, 401), (True, 200)):
        app = create_app(
            settings.model_copy(update={"trust_forwarded_headers": trust}), publisher=producer
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://chat.test") as c:
                response = await c.post(
                    request.path,
                    content=request.content,
                    headers={**request.headers, **forwarded},
                )
        assert response.status_code == expected


async def test_kakao_answers_skill_response_in_user_language(client):
    import json

    from services.chat_ingest.samples import SampleRequest, kakao_payload
    from tests.helpers.chat_ingest import SECRETS

    for lang, expected in (("ko", "메시지를 받았습니다"), ("en", "Thanks, we got your message")):
        body = json.dumps(kakao_payload(11, lang=lang)).encode()
        request = SampleRequest(
            "POST",
            "/webhooks/kakao/main",
            body,
            {"Content-Type": "application/json", "X-Omnidesk-Token": SECRETS[Provider.KAKAO]},
        )
        response = await send(client, request)
        assert response.status_code == 200
        answer = response.json()
        assert answer["version"] == "2.0"
        assert answer["template"]["outputs"][0]["simpleText"]["text"].startswith(expected)


async def test_kakao_token_in_query(client, producer):
    from tests.helpers.chat_ingest import SECRETS

    request = signed(Provider.KAKAO)
    headers = {"Content-Type": "application/json"}
    path = f"{request.path}?token={SECRETS[Provider.KAKAO]}"
    response = await send(client, dataclasses.replace(request, path=path, headers=headers))
    assert response.status_code == 200
    assert len(producer.sent) == 1


async def test_whatsapp_subscription_handshake(client):
    ok = await client.get(
        "/webhooks/whatsapp/main",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": "verify-me",
            "hub.challenge": "1158201444",
        },
    )
    assert ok.status_code == 200
    assert ok.text == "1158201444"
    wrong = await client.get(
        "/webhooks/whatsapp/main",
        params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
    )
    assert wrong.status_code == 401
    missing = await client.get("/webhooks/whatsapp/main", params={"hub.mode": "subscribe"})
    assert missing.status_code == 400


async def test_slack_url_verification(client, producer):
    import json
    import time

    from libs.common.webhooks import slack_signature
    from tests.helpers.chat_ingest import SECRETS

    body = json.dumps(
        {
            "token": "x",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    ).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(SECRETS[Provider.SLACK], ts, body),
    }
    response = await client.post("/webhooks/slack/main", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert producer.sent == []


async def test_slack_retry_is_acked_once(client, producer):
    request = signed(Provider.SLACK, seq=21)
    assert (await send(client, request)).status_code == 200
    retry = dataclasses.replace(
        request,
        headers={
            **request.headers,
            "X-Slack-Retry-Num": "1",
            "X-Slack-Retry-Reason": "http_timeout",
        },
    )
    response = await send(client, retry)
    assert response.status_code == 200
    assert response.json()["duplicates"] == 1
    assert len(producer.sent) == 1

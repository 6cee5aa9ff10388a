"""Bad input gets 4xx with a JSON error naming the problem; a dead bus gets 503."""

from __future__ import annotations

import json

import pytest

from libs.common.webhooks.metrics import WEBHOOK_REJECTIONS
from libs.providers.integrations import Provider
from tests.helpers.chat_ingest import SECRETS, send, send_body, signed


@pytest.mark.parametrize("provider", list(Provider))
async def test_unknown_integration_is_404(client, producer, provider):
    request = signed(provider, integration_id="nope")
    response = await send(client, request)
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_integration"
    assert producer.sent == []


async def test_oversize_body_is_413(settings, producer):
    import httpx

    from services.chat_ingest.bootstrap import create_app

    app = create_app(settings.model_copy(update={"max_body_bytes": 100}), publisher=producer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://chat.test") as client:
            response = await send(client, signed(Provider.LINE))
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert producer.sent == []


JSON_PROVIDERS = [
    Provider.WHATSAPP,
    Provider.LINE,
    Provider.WEBCHAT,
    Provider.TELEGRAM,
    Provider.KAKAO,
]


@pytest.mark.parametrize("provider", JSON_PROVIDERS)
@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b"null", b'{"update_id": "x", "object": 5, "events": 3}', b""]
)
async def test_signed_but_malformed_body_is_400(client, producer, provider, body):
    response = await send_body(client, provider, body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error"] in {"malformed", "empty_body"}
    assert error["detail"]
    assert producer.sent == []


@pytest.mark.parametrize("provider", JSON_PROVIDERS)
async def test_unreadable_authenticated_body_is_kept_on_the_dead_letter_topic(
    client, producer, provider
):
    body = b'{"not": "what the provider sends"'
    response = await send_body(client, provider, body)
    assert response.status_code == 400
    [(topic, value, headers)] = producer.raw
    assert topic == "support.deadletter.v1"
    assert value == body  # the raw bytes, unchanged
    dlq = {k: v.decode() for k, v in headers}
    assert dlq["dlq_stage"] == f"chat_ingest.{provider.value}"
    assert dlq["dlq_source"] == f"chat_ingest:{provider.value}/main"
    assert dlq["dlq_error"].startswith("malformed:")
    assert dlq["content-type"] == "application/json"


async def test_unauthenticated_garbage_is_not_kept(client, producer):
    response = await client.post(
        "/webhooks/line/main", content=b"{junk", headers={"X-Line-Signature": "AAAA"}
    )
    assert response.status_code == 401
    assert producer.raw == []


async def test_unreadable_body_while_kafka_is_down_is_503(client, producer):
    producer.fail = True
    body = b"{junk"
    response = await send_body(client, Provider.LINE, body)
    assert response.status_code == 503  # not kept, so not refused: the provider retries


async def test_webchat_error_names_the_missing_field(client, producer):
    body = json.dumps({"visitor": {"id": "v1"}, "text": "secret text"}).encode()
    response = await send_body(client, Provider.WEBCHAT, body)
    assert response.status_code == 400
    assert "message_id" in response.json()["detail"]
    assert "secret text" not in response.text  # message text is never echoed


async def test_twilio_without_message_sid_is_400(client, producer):
    from urllib.parse import urlencode

    from libs.common.webhooks import twilio_signature

    pairs = [("From", "+821012345678"), ("Body", "hi")]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(
            SECRETS[Provider.TWILIO], "http://chat.test/webhooks/twilio/main", pairs
        ),
    }
    response = await client.post(
        "/webhooks/twilio/main", content=urlencode(pairs).encode(), headers=headers
    )
    assert response.status_code == 400
    assert "MessageSid" in response.json()["detail"]


async def test_twilio_json_content_type_is_415(client):
    response = await client.post(
        "/webhooks/twilio/main", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 415


@pytest.mark.parametrize("provider", list(Provider))
async def test_kafka_down_is_503_with_retry_after_and_counted(client, producer, provider):
    producer.fail = True
    before = WEBHOOK_REJECTIONS.labels(provider.value, "bus_unavailable")._value.get()
    response = await send(client, signed(provider, seq=99))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] == "bus_unavailable"
    assert WEBHOOK_REJECTIONS.labels(provider.value, "bus_unavailable")._value.get() == before + 1
    producer.fail = False
    # The provider's retry goes through: nothing was remembered as acked.
    retry = await send(client, signed(provider, seq=99))
    assert retry.status_code in (200, 202)
    assert len(producer.sent) == 1


async def test_ignored_events_are_acked_without_publishing(client, producer):
    body = json.dumps({"update_id": 5, "edited_message": None, "channel_post": None}).encode()
    response = await send_body(client, Provider.TELEGRAM, body)
    assert response.status_code == 200
    assert response.json() == {"accepted": 0, "duplicates": 0, "ignored": 1, "event_ids": []}
    assert producer.sent == []


async def test_line_webhook_verification_with_no_events_is_200(client, producer):
    body = b'{"destination":"Uxxxxxxxx","events":[]}'
    response = await send_body(client, Provider.LINE, body)
    assert response.status_code == 200
    assert producer.sent == []


async def test_openapi_documents_every_route_body_and_error(client):
    document = (await client.get("/openapi.json")).json()
    webhook_posts = {
        path: item["post"] for path, item in document["paths"].items() if "post" in item
    }
    assert len(webhook_posts) == 8
    for path, operation in webhook_posts.items():
        assert operation["requestBody"]["content"], path
        for code in ("200", "400", "401", "404", "413", "503"):
            if code == "200" and path.endswith("/messages"):
                code = "202"
            assert code in operation["responses"], (path, code)
    assert "get" in document["paths"]["/webhooks/whatsapp/{integration_id}"]
    assert '"422"' not in json.dumps(document)  # validation errors answer 400 here
    assert {"/healthz", "/readyz", "/metrics"} <= set(document["paths"])


async def test_metrics_endpoint_exposes_rejection_counter(client):
    await send(client, signed(Provider.LINE, integration_id="nope"))
    metrics = (await client.get("/metrics")).text
    assert (
        'omnidesk_webhook_rejections_total{provider="line",reason="unknown_integration"}' in metrics
    )


async def test_request_latency_is_observed_per_provider(client):
    from libs.common.webhooks.metrics import WEBHOOK_SECONDS

    before = WEBHOOK_SECONDS.labels("telegram")._sum.get()
    count_before = _histogram_count("telegram")
    await send(client, signed(Provider.TELEGRAM, seq=404))
    assert _histogram_count("telegram") == count_before + 1
    assert WEBHOOK_SECONDS.labels("telegram")._sum.get() >= before


def _histogram_count(provider: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("omnidesk_webhook_seconds_count", {"provider": provider})
    return value or 0.0

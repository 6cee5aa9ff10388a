"""The benchmark's phone payloads are requests the app accepts, each a new event."""

from __future__ import annotations

import json

import httpx
import pytest

from bench.phone_payloads import PROVIDERS, build_request, service_env
from services.phone_log.bootstrap import create_app
from services.phone_log.settings import PhoneLogSettings
from tests.unit.phone_log.helpers import RecordingProducer

BASE_URL = "http://127.0.0.1:8082"


def bench_settings() -> PhoneLogSettings:
    env = service_env("bench.topic")
    integrations = json.loads(env["PHONE_LOG_INTEGRATIONS"])
    return PhoneLogSettings(
        integrations=integrations,
        dev_samples=False,
        public_base_url=env["PHONE_LOG_PUBLIC_BASE_URL"],
    )


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_bench_requests_are_accepted_as_distinct_events(provider):
    producer = RecordingProducer()
    app = create_app(bench_settings(), producer=producer)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        for seq in range(8):
            request = build_request(seq, BASE_URL, provider=provider)
            response = await client.request(
                request.method, request.path, content=request.content, headers=request.headers
            )
            assert response.status_code == 200, response.text
    assert len({event.id for _, event, _ in producer.sent}) == 8


def test_unknown_provider_is_refused_clearly():
    with pytest.raises(ValueError, match="choose one of"):
        build_request(1, BASE_URL, provider="webchat")

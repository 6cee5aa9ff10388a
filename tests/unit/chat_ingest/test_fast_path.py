"""The fast path (direct dispatch) and FastAPI's own routing give the same answers."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import httpx
import pytest

from libs.common.events.base import utc_now
from libs.common.webhooks.fastpath import WebhookDoor, served_app
from libs.providers.integrations import Provider
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.samples import SampleRequest
from services.chat_ingest.settings import ChatIngestSettings
from tests.helpers.chat_ingest import BASE_URL, FakeProducer, make_integrations, send, signed


def _variants(provider: Provider) -> list[SampleRequest]:
    good = signed(provider, seq=31)
    tampered_headers = {
        k: v[:-1] + "x" if "ignature" in k or "Token" in k else v for k, v in good.headers.items()
    }
    return [
        good,
        signed(provider, seq=31),  # a retry: duplicate
        signed(provider, seq=32, integration_id="missing"),
        dataclasses.replace(good, headers=tampered_headers),
        dataclasses.replace(signed(provider, seq=33), content=b"{oops"),
    ]


async def _answers(
    fast_path: bool, requests: list[SampleRequest], now: datetime
) -> list[tuple[int, str]]:
    settings = ChatIngestSettings(integrations=make_integrations(), fast_path=fast_path)
    # One clock for both runs: answers that carry time (web chat's visitor token) compare.
    app = create_app(settings, publisher=FakeProducer(), clock=lambda: now)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            responses = [await send(client, request) for request in requests]
    return [(r.status_code, r.text) for r in responses]


@pytest.mark.parametrize("provider", list(Provider))
async def test_fast_and_slow_paths_answer_alike(provider: Provider):
    requests = _variants(provider)
    now = utc_now()
    fast = await _answers(True, requests, now)
    slow = await _answers(False, requests, now)
    assert fast == slow
    assert fast[0][0] in (200, 202)
    assert fast[2][0] == 404


async def test_everything_else_still_goes_through_fastapi(client):
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.post("/webhooks/unknown-provider/x", content=b"{}")).status_code == 404
    handshake = await client.get(
        "/webhooks/whatsapp/main",
        params={"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "7"},
    )
    assert handshake.text == "7"


class BrokenProducer(FakeProducer):
    async def publish(self, topic, event, *, key):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug, not bad input")


@pytest.mark.parametrize("fast_path", [True, False])
async def test_a_bug_is_a_json_500_on_both_paths(fast_path: bool):
    settings = ChatIngestSettings(integrations=make_integrations(), fast_path=fast_path)
    app = create_app(settings, publisher=BrokenProducer())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            response = await send(client, signed(Provider.TELEGRAM))
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("producer", [FakeProducer, BrokenProducer])
async def test_each_request_is_timed_once_on_both_paths(fast_path: bool, producer: type):
    # The fast path sits in front of the middleware stack and times its requests itself;
    # the timing middleware in the stack times the others: never both, never neither.
    from prometheus_client import REGISTRY

    def count() -> float:
        labels = {"provider": "line"}
        return REGISTRY.get_sample_value("omnidesk_webhook_seconds_count", labels) or 0.0

    settings = ChatIngestSettings(integrations=make_integrations(), fast_path=fast_path)
    app = create_app(settings, publisher=producer())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            before = count()
            response = await send(client, signed(Provider.LINE, seq=77))
            assert count() == before + 1
    assert response.status_code == (500 if producer is BrokenProducer else 200)


async def _door_answers(requests: list[SampleRequest], now: datetime) -> list[tuple[int, str]]:
    settings = ChatIngestSettings(integrations=make_integrations())
    app = create_app(settings, publisher=FakeProducer(), clock=lambda: now)
    served = served_app(app)
    assert isinstance(served, WebhookDoor)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            responses = [await send(client, request) for request in requests]
            # everything else goes through the app, as before
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/openapi.json")).json() == app.openapi()
    return [(r.status_code, r.text) for r in responses]


@pytest.mark.parametrize("provider", list(Provider))
async def test_the_served_door_answers_as_the_app(provider: Provider):
    requests = _variants(provider)
    now = utc_now()
    assert await _door_answers(requests, now) == await _answers(False, requests, now)


def test_the_door_only_serves_an_app_with_the_fast_path_and_no_root_path():
    without = create_app(ChatIngestSettings(integrations=make_integrations(), fast_path=False))
    assert served_app(without) is without
    rooted = create_app(ChatIngestSettings(integrations=make_integrations()))
    rooted.root_path = "/ingest"
    assert served_app(rooted) is rooted


@pytest.mark.parametrize("producer", [FakeProducer, BrokenProducer])
async def test_the_door_times_each_request_once(producer: type):
    from prometheus_client import REGISTRY

    def count() -> float:
        labels = {"provider": "line"}
        return REGISTRY.get_sample_value("omnidesk_webhook_seconds_count", labels) or 0.0

    app = create_app(ChatIngestSettings(integrations=make_integrations()), publisher=producer())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=served_app(app), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            before = count()
            response = await send(client, signed(Provider.LINE, seq=78))
            assert count() == before + 1
    assert response.status_code == (500 if producer is BrokenProducer else 200)
    if producer is BrokenProducer:
        assert response.json()["error"] == "internal_error"

"""Body limits, error model, public URL and publish-then-ack, on a tiny FastAPI app."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI, Request

from libs.common.cloudevents import CloudEvent
from libs.common.events import Channel, CustomerIdentity, Interaction
from libs.common.kafka.producer import PublishError
from libs.common.webhooks import (
    BadSignature,
    Publisher,
    RecentlyAcked,
    install_error_handlers,
    parse_form,
    parse_json_object,
    public_url,
    read_body,
)
from libs.common.webhooks.metrics import WEBHOOK_REJECTIONS


def _app(limit: int = 16) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        request.state.webhook_provider = "demo"
        body = await read_body(request, limit=limit)
        return parse_json_object(body)

    @app.post("/secret")
    async def secret(request: Request) -> dict:
        raise BadSignature("X-Demo-Signature does not match", provider="demo", integration="i1")

    @app.get("/boom")
    async def boom() -> dict:
        raise RuntimeError("bug")

    @app.get("/url")
    async def url(request: Request, trust: bool = False) -> dict:
        return {"url": public_url(request, trust_forwarded=trust)}

    return app


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


async def test_body_within_limit_is_read():
    async with await _client(_app()) as client:
        response = await client.post("/echo", content=b'{"a": 1}')
    assert response.status_code == 200
    assert response.json() == {"a": 1}


async def test_oversize_body_is_413_and_counted():
    before = WEBHOOK_REJECTIONS.labels("demo", "too_large")._value.get()
    async with await _client(_app(limit=4)) as client:
        response = await client.post("/echo", content=b'{"a": 12345}')
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert WEBHOOK_REJECTIONS.labels("demo", "too_large")._value.get() == before + 1


async def test_chunked_oversize_body_is_413():
    async def chunks():
        for _ in range(10):
            yield b"xxxxxxxx"

    async with await _client(_app(limit=20)) as client:
        response = await client.post("/echo", content=chunks())
    assert response.status_code == 413


@pytest.mark.parametrize("body", [b"", b"{", b"[1]", b"\xff\xfe", b'"x"'])
async def test_malformed_json_is_400_naming_the_problem(body: bytes):
    async with await _client(_app(limit=100)) as client:
        response = await client.post("/echo", content=body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["error"] in {"malformed", "empty_body", "bad_encoding"}
    assert payload["detail"]


async def test_bad_signature_is_401_json():
    async with await _client(_app()) as client:
        response = await client.post("/secret", content=b"{}")
    assert response.status_code == 401
    assert response.json() == {
        "error": "bad_signature",
        "detail": "X-Demo-Signature does not match",
        "provider": "demo",
        "integration": "i1",
    }


async def test_unknown_route_and_method_are_json():
    async with await _client(_app()) as client:
        missing = await client.post("/nope", content=b"{}")
        wrong_method = await client.get("/echo")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert wrong_method.status_code == 405


async def test_public_url_ignores_forwarded_headers_unless_trusted():
    headers = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "hooks.example.com",
        "X-Forwarded-Port": "443",
    }
    async with await _client(_app()) as client:
        untrusted = await client.get("/url?x=1", headers=headers)
        trusted = await client.get("/url?trust=true", headers=headers)
        odd_port = await client.get(
            "/url?trust=true", headers={**headers, "X-Forwarded-Port": "8443"}
        )
    assert untrusted.json()["url"] == "http://svc/url?x=1"
    assert trusted.json()["url"] == "https://hooks.example.com/url?trust=true"
    assert odd_port.json()["url"] == "https://hooks.example.com:8443/url?trust=true"


@pytest.mark.parametrize("host", ["[", "x:99999999", "a b"])
async def test_public_url_from_a_broken_host_header_is_400(host: str):
    async with await _client(_app()) as client:
        response = await client.get("/url", headers={"Host": host})
    assert response.status_code == 400
    assert response.json()["error"] == "malformed"


def test_twilio_url_variants_survive_broken_ports():
    from libs.common.webhooks.signatures import twilio_url_variants

    assert twilio_url_variants("http://[/x") == ["http://[/x"]
    assert twilio_url_variants("https://h:notaport/x") == ["https://h:notaport/x"]


async def test_unexpected_error_is_json_500_and_counted():
    before = WEBHOOK_REJECTIONS.labels("unknown", "internal_error")._value.get()
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert WEBHOOK_REJECTIONS.labels("unknown", "internal_error")._value.get() == before + 1


def test_parse_form_keeps_repeats_and_blanks():
    assert parse_form(b"a=1&a=2&b=&c=%ED%95%9C") == [("a", "1"), ("a", "2"), ("b", ""), ("c", "한")]


def test_recently_acked_is_bounded_lru():
    acked = RecentlyAcked(capacity=2)
    acked.add("a")
    acked.add("b")
    assert "a" in acked  # refreshes a
    acked.add("c")
    assert "b" not in acked
    assert "a" in acked and "c" in acked
    assert len(acked) == 2


class FakeProducer:
    """A plain fake (unit tests only): records events or fails like a dead broker."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, CloudEvent, str]] = []

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> None:
        if self.fail:
            raise PublishError("broker down")
        self.sent.append((topic, event, key))


def _event(event_id: str = "e1") -> CloudEvent:
    now = datetime.now(UTC)
    data = Interaction(
        channel=Channel.CHAT,
        provider="demo",
        integration="i1",
        occurred_at=now,
        received_at=now,
        customer=CustomerIdentity(handle="demo:1"),
    )
    return CloudEvent(id=event_id, source="/test", type=data.event_type(), data=data)


async def test_publisher_publishes_once_then_skips_recent_duplicate():
    producer = FakeProducer()
    publisher = Publisher(producer, topic="t")
    assert await publisher.publish(_event(), key="demo:1") is True
    assert await publisher.publish(_event(), key="demo:1") is False
    assert len(producer.sent) == 1
    assert publisher.in_flight == 0


async def test_publisher_maps_publish_error_to_503_with_retry_after():
    from libs.common.webhooks import BusUnavailable

    publisher = Publisher(FakeProducer(fail=True), topic="t", retry_after_s=7)
    with pytest.raises(BusUnavailable) as caught:
        await publisher.publish(_event(), key="demo:1", provider="demo")
    assert caught.value.status_code == 503
    assert caught.value.headers == {"Retry-After": "7"}
    assert "e1" not in publisher.recently_acked
    assert publisher.in_flight == 0


async def test_publisher_refuses_past_max_in_flight():
    from libs.common.webhooks import BusUnavailable

    publisher = Publisher(FakeProducer(), topic="t", max_in_flight=0)
    with pytest.raises(BusUnavailable):
        await publisher.publish(_event(), key="demo:1")


class StuckProducer:
    """A broker that never answers."""

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> None:
        import asyncio

        await asyncio.Event().wait()


async def test_publisher_deadline_bounds_the_wait_and_answers_503():
    from libs.common.webhooks import BusUnavailable

    publisher = Publisher(StuckProducer(), topic="t", deadline_s=0.05)
    with pytest.raises(BusUnavailable):
        await publisher.publish(_event(), key="demo:1")
    assert publisher.in_flight == 0
    assert "e1" not in publisher.recently_acked


class BoundedStuckProducer(StuckProducer):
    """A broker that never answers, behind a producer that gives up after ``send_timeout_s``."""

    def __init__(self, send_timeout_s: float) -> None:
        self.send_timeout_s = send_timeout_s

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> None:
        import asyncio

        try:
            async with asyncio.timeout(self.send_timeout_s):
                await asyncio.Event().wait()
        except TimeoutError as exc:
            raise PublishError("not acknowledged") from exc


async def test_publisher_leaves_the_deadline_to_a_producer_that_enforces_it():
    from libs.common.webhooks import BusUnavailable

    publisher = Publisher(BoundedStuckProducer(0.05), topic="t", deadline_s=0.05)
    assert publisher._deadline_s is None  # one timer per request: the producer's
    with pytest.raises(BusUnavailable):
        await publisher.publish(_event(), key="demo:1")
    assert publisher.in_flight == 0


async def test_publisher_keeps_a_deadline_tighter_than_the_producers():
    from libs.common.webhooks import BusUnavailable

    publisher = Publisher(BoundedStuckProducer(60), topic="t", deadline_s=0.05)
    with pytest.raises(BusUnavailable):
        await publisher.publish(_event(), key="demo:1")

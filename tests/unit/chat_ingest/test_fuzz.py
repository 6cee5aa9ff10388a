"""Property runs: nothing a client can send makes the app answer 5xx.

- schemathesis generates requests from the app's own OpenAPI document;
- hypothesis sends arbitrary (and arbitrary-but-valid-JSON) bodies that carry a
  *correct* signature, so the parsers and normalisers behind the signature
  check are exercised too.
Both are bounded (example counts, no deadlines) to stay well under a minute.
"""

from __future__ import annotations

import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.webhooks import hmac_sha256_base64, hmac_sha256_hex, slack_signature
from libs.providers.integrations import Provider
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.settings import ChatIngestSettings
from tests.helpers.chat_ingest import SECRETS, FakeProducer, make_integrations

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


def test_openapi_generated_requests_never_5xx():
    app = create_app(ChatIngestSettings(integrations=make_integrations()), publisher=FakeProducer())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 12  # 8 webhooks, the WhatsApp handshake, 3 probes
    statuses: set[int] = set()

    for operation in operations:

        @FUZZ
        @given(case=operation.as_strategy(), known=st.booleans())
        def check(case, known: bool) -> None:  # type: ignore[no-untyped-def]
            if known and "integration_id" in (case.path_parameters or {}):
                case.path_parameters["integration_id"] = "main"  # get past the 404
            response = case.call()
            statuses.add(response.status_code)
            assert response.status_code < 500, (case.method, case.path, response.status_code)

        check()
    assert {401, 404} <= statuses  # the run reached the signature checks


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


def _shaped(provider: Provider) -> st.SearchStrategy[object]:
    """Random JSON, and random JSON in the rough shape of the provider's payload."""
    keys = {
        Provider.WHATSAPP: ["object", "entry", "changes", "value", "messages", "from", "id"],
        Provider.TELEGRAM: ["update_id", "message", "from", "chat", "id", "message_id", "date"],
        Provider.SLACK: ["type", "event", "event_id", "channel", "user", "ts", "text"],
        Provider.LINE: ["events", "type", "message", "source", "userId", "webhookEventId", "id"],
        Provider.CHANNELTALK: ["event", "type", "entity", "refers", "id", "personType"],
        Provider.KAKAO: ["userRequest", "user", "id", "utterance", "lang", "bot"],
        Provider.WEBCHAT: ["message_id", "visitor", "id", "text", "sent_at", "attachments"],
    }[provider]
    shaped = st.recursive(
        st.none() | st.integers() | st.text(max_size=10) | st.sampled_from(["push", "message"]),
        lambda children: (
            st.dictionaries(st.sampled_from(keys), children, max_size=5)
            | st.lists(children, max_size=3)
        ),
        max_leaves=30,
    )
    return json_values | shaped


def _headers(provider: Provider, body: bytes) -> tuple[str, dict[str, str]]:
    secret = SECRETS[provider]
    path = f"/webhooks/{provider.value}/main"
    headers = {"Content-Type": "application/json"}
    if provider is Provider.WHATSAPP:
        headers["X-Hub-Signature-256"] = "sha256=" + hmac_sha256_hex(secret, body)
    elif provider is Provider.LINE:
        headers["X-Line-Signature"] = hmac_sha256_base64(secret, body)
    elif provider is Provider.WEBCHAT:
        headers["X-Omnidesk-Signature"] = "sha256=" + hmac_sha256_hex(secret, body)
        path += "/messages"
    elif provider is Provider.TELEGRAM:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    elif provider is Provider.KAKAO:
        headers["X-Omnidesk-Token"] = secret
    elif provider is Provider.CHANNELTALK:
        path += f"?token={secret}"
    elif provider is Provider.SLACK:
        import time

        ts = str(int(time.time()))
        headers["X-Slack-Request-Timestamp"] = ts
        headers["X-Slack-Signature"] = slack_signature(secret, ts, body)
    return path, headers


SIGNED_JSON_PROVIDERS = [p for p in Provider if p is not Provider.TWILIO]


@pytest.mark.parametrize("provider", SIGNED_JSON_PROVIDERS)
def test_correctly_signed_arbitrary_bodies_never_5xx(provider: Provider):
    import asyncio

    app = create_app(ChatIngestSettings(integrations=make_integrations()), publisher=FakeProducer())

    async def post(body: bytes) -> int:
        path, headers = _headers(provider, body)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return (await client.post(path, content=body, headers=headers)).status_code

    @FUZZ
    @given(
        st.one_of(_shaped(provider).map(lambda v: json.dumps(v).encode()), st.binary(max_size=64))
    )
    def check(body: bytes) -> None:
        status = asyncio.run(post(body))
        statuses.add(status)
        assert status < 500, (provider, body, status)

    statuses: set[int] = set()
    check()
    assert 400 in statuses  # the bodies got past the signature check into the parsers


@FUZZ
@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=20)), max_size=8))
def test_correctly_signed_arbitrary_twilio_forms_never_5xx(pairs: list[tuple[str, str]]):
    import asyncio
    from urllib.parse import urlencode

    from libs.common.webhooks import twilio_signature

    app = create_app(ChatIngestSettings(integrations=make_integrations()), publisher=FakeProducer())
    url = "http://t/webhooks/twilio/main"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(SECRETS[Provider.TWILIO], url, pairs),
    }

    async def post() -> int:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                body = urlencode(pairs).encode()
                return (await client.post(url, content=body, headers=headers)).status_code

    assert asyncio.run(post()) < 500

"""The providers' published test vectors (PROVIDERS.md) through the real routes.

A vector's body is not a valid webhook payload, so a correct signature shows as
400 (verified, then refused as malformed) and a wrong one as 401.
"""

from __future__ import annotations

import httpx
import pytest

from libs.providers.integrations import Integration, Provider
from services.chat_ingest.bootstrap import create_app
from services.chat_ingest.settings import ChatIngestSettings
from tests.helpers.chat_ingest import FakeProducer

WHATSAPP_SIG = "sha256=0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221"
LINE_SIG = "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="


@pytest.fixture
async def vector_client():  # type: ignore[no-untyped-def]
    integrations = [
        Integration(id="v", provider=Provider.WHATSAPP, secret="TEST_APP_SECRET"),
        Integration(id="v", provider=Provider.LINE, secret="channel_secret"),
    ]
    app = create_app(ChatIngestSettings(integrations=integrations), publisher=FakeProducer())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client


@pytest.mark.parametrize(
    ("path", "header", "body", "good", "bad"),
    [
        (
            "/webhooks/whatsapp/v",
            "X-Hub-Signature-256",
            b"test",
            WHATSAPP_SIG,
            WHATSAPP_SIG[:-1] + "0",
        ),
        ("/webhooks/line/v", "X-Line-Signature", b"bodybodybodybody", LINE_SIG, "A" + LINE_SIG[1:]),
    ],
)
async def test_vector_signature_accepted_wrong_one_refused(
    vector_client, path, header, body, good, bad
):
    accepted = await vector_client.post(path, content=body, headers={header: good})
    refused = await vector_client.post(path, content=body, headers={header: bad})
    assert accepted.status_code == 400, accepted.text  # past the signature, not JSON
    assert accepted.json()["error"] == "malformed"
    assert refused.status_code == 401

"""Build the phone_log app over a plain fake producer, with one integration per provider."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

from libs.common.webhooks import EventPublisher, twilio_signature
from services.phone_log.bootstrap import create_app
from services.phone_log.integrations import (
    AsteriskIntegration,
    CtiIntegration,
    FreeswitchIntegration,
    TwilioIntegration,
)
from services.phone_log.settings import PhoneLogSettings

BASE_URL = "https://phone.example.com"
TWILIO_TOKEN = "twilio-auth-token-kr"
ASTERISK_TOKEN = "asterisk-shared-token"
FS_USER, FS_PASSWORD = "freeswitch", "fs-basic-password"
CTI_TOKEN = "cti-path-token-9f8e7d"


def test_settings(**overrides) -> PhoneLogSettings:
    integrations = [
        TwilioIntegration(
            id="kr-main", auth_token=SecretStr(TWILIO_TOKEN), queue="support-ko", language="ko"
        ),
        AsteriskIntegration(id="pbx-seoul", token=SecretStr(ASTERISK_TOKEN), queue="support-ko"),
        FreeswitchIntegration(id="fs-seoul", username=FS_USER, password=SecretStr(FS_PASSWORD)),
        CtiIntegration(id="cti-main", token=SecretStr(CTI_TOKEN), language="en"),
    ]
    return PhoneLogSettings(integrations=integrations, dev_samples=False, **overrides)


test_settings.__test__ = False  # a builder, not a test


@asynccontextmanager
async def running_app(producer: EventPublisher, **overrides) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(test_settings(**overrides), producer=producer)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client


def signed_twilio(path: str, fields: dict[str, str], token: str = TWILIO_TOKEN) -> dict:
    """Keyword arguments for client.post: the form body and its X-Twilio-Signature."""
    signature = twilio_signature(token, BASE_URL + path, fields)
    return {
        "content": urlencode(fields).encode(),
        "headers": {
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    }


def basic_auth(user: str = FS_USER, password: str = FS_PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

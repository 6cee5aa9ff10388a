"""chat_ingest test helpers: one integration per provider, a plain fake producer, and
requests signed as each provider signs them (unit, integration and security tests)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

import httpx

from libs.common.cloudevents import CloudEvent
from libs.common.events import RoutingHints
from libs.common.kafka.producer import PublishError
from libs.common.webhooks.signatures import (
    hmac_sha256_base64,
    hmac_sha256_hex,
    slack_signature,
    twilio_signature,
)
from libs.providers.integrations import Integration, Provider, webhook_path
from services.chat_ingest.samples import SampleRequest, sample_request

BASE_URL = "http://chat.test"
SECRETS = {provider: f"secret-{provider.value}-0123456789" for provider in Provider}


def make_integrations() -> list[Integration]:
    return [
        Integration(
            id="main",
            provider=provider,
            secret=SECRETS[provider],
            verify_token="verify-me" if provider is Provider.WHATSAPP else None,
            api_key="webchat-api-key" if provider is Provider.WEBCHAT else None,
            routing=RoutingHints(queue=f"{provider.value}-queue", language="ko", brand="acme"),
            agent_ids=frozenset({"U_AGENT", "777"}),
        )
        for provider in Provider
    ]


@dataclass
class FakeProducer:
    """Records what would go to Kafka; ``fail`` makes it behave like a dead broker."""

    fail: bool = False
    sent: list[tuple[str, CloudEvent, str]] = field(default_factory=list)
    raw: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = field(default_factory=list)

    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> None:
        if self.fail:
            raise PublishError("broker unavailable (fake)")
        self.sent.append((topic, event, key))

    async def send(
        self, topic: str, value: bytes | None, *, key: str | bytes | None, headers: list
    ) -> None:
        if self.fail:
            raise PublishError("broker unavailable (fake)")
        self.raw.append((topic, value, headers))


def signed(
    provider: Provider,
    seq: int = 1,
    integration_id: str = "main",
    *,
    secrets: dict[Provider, str] = SECRETS,
    base_url: str = BASE_URL,
) -> SampleRequest:
    """A sample webhook of ``provider`` signed with its integration's secret."""
    return sample_request(
        provider,
        integration_id=integration_id,
        secret=secrets[provider],
        seq=seq,
        base_url=base_url,
    )


async def send(client: httpx.AsyncClient, request: SampleRequest) -> httpx.Response:
    return await client.request(
        request.method, request.path, content=request.content, headers=request.headers
    )


async def send_body(
    client: httpx.AsyncClient,
    provider: Provider,
    body: bytes,
    *,
    secrets: dict[Provider, str] = SECRETS,
) -> httpx.Response:
    """``provider``'s sample request with ``body`` (any bytes, also malformed) in place of
    its own, carrying a valid credential for that body."""
    headers = credentials(provider, body, secret=secrets[provider])[1]
    request = dataclasses.replace(signed(provider, secrets=secrets), content=body, headers=headers)
    return await send(client, request)


def credentials(
    provider: Provider,
    body: bytes,
    *,
    secret: str,
    integration_id: str = "main",
    base_url: str = BASE_URL,
    now: Callable[[], float] = time.time,
) -> tuple[str, dict[str, str]]:
    """(path, headers) carrying a valid credential for ``body``, as ``provider`` signs it:
    any body, including ones no sample builds (malformed, oversize, deeply nested)."""
    path = webhook_path(provider, integration_id)
    headers = {"Content-Type": "application/json"}
    if provider is Provider.TWILIO:
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": twilio_signature(secret, base_url + path, pairs),
        }
    elif provider in (Provider.WHATSAPP, Provider.WEBCHAT):
        header = "X-Hub-Signature-256" if provider is Provider.WHATSAPP else "X-Omnidesk-Signature"
        headers[header] = "sha256=" + hmac_sha256_hex(secret, body)
    elif provider is Provider.LINE:
        headers["X-Line-Signature"] = hmac_sha256_base64(secret, body)
    elif provider is Provider.SLACK:
        stamp = str(int(now()))
        headers["X-Slack-Request-Timestamp"] = stamp
        headers["X-Slack-Signature"] = slack_signature(secret, stamp, body)
    elif provider is Provider.TELEGRAM:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    elif provider is Provider.KAKAO:
        headers["X-Omnidesk-Token"] = secret
    elif provider is Provider.CHANNELTALK:
        path += "?" + urlencode({"token": secret})
    return path, headers

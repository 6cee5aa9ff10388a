"""chat_ingest, every provider route: forged, tampered, missing and replayed credentials.

The app runs with its real Kafka producer; after the rejected requests one
valid request is sent twice, and the topic must hold exactly one event — so
neither a rejected request nor a replay produced anything.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from libs.common.webhooks.signatures import slack_signature
from libs.providers.integrations import Provider, webhook_path
from services.chat_ingest.samples import SampleRequest, sample_request, slack_payload
from tests.helpers.chat_ingest import send
from tests.helpers.kafka import header, read_topic
from tests.integration.chat_ingest.helpers import BASE_URL, SECRETS, running_app, signed

pytestmark = pytest.mark.integration

#: Where each provider carries its credential (header name, or the query for Channel Talk).
CREDENTIAL = {
    Provider.TWILIO: "X-Twilio-Signature",
    Provider.WHATSAPP: "X-Hub-Signature-256",
    Provider.TELEGRAM: "X-Telegram-Bot-Api-Secret-Token",
    Provider.SLACK: "X-Slack-Signature",
    Provider.LINE: "X-Line-Signature",
    Provider.CHANNELTALK: "?token",
    Provider.KAKAO: "X-Omnidesk-Token",
    Provider.WEBCHAT: "X-Omnidesk-Signature",
}
#: Providers that sign the body (a changed body must fail); the others send a shared token.
BODY_SIGNED = {Provider.TWILIO, Provider.WHATSAPP, Provider.SLACK, Provider.LINE, Provider.WEBCHAT}


def forged(provider: Provider, seq: int) -> SampleRequest:
    """Correct in every way but signed with (or carrying) an attacker's secret."""
    return sample_request(
        provider, integration_id="it", secret="attacker-secret", seq=seq, base_url=BASE_URL
    )


def missing(provider: Provider, seq: int) -> SampleRequest:
    request = signed(provider, seq)
    where = CREDENTIAL[provider]
    if where == "?token":
        return dataclasses.replace(request, path=urlsplit(request.path).path)
    headers = {k: v for k, v in request.headers.items() if k.lower() != where.lower()}
    return dataclasses.replace(request, headers=headers)


def tampered(provider: Provider, seq: int) -> SampleRequest:
    """Signed correctly, then one character of the body changed in transit."""
    request = signed(provider, seq)
    body = request.content.replace(str(seq).encode(), str(seq + 1).encode(), 1)
    assert body != request.content
    return dataclasses.replace(request, content=body)


@pytest.mark.parametrize("provider", list(Provider), ids=str)
async def test_bad_credentials_are_refused_and_a_replay_adds_no_event(kafka_topics, provider):
    seq = 7000
    async with running_app(kafka_topics) as client:
        rejected = [
            await send(client, forged(provider, seq)),
            await send(client, missing(provider, seq)),
        ]
        if provider in BODY_SIGNED:
            rejected.append(await send(client, tampered(provider, seq)))
        valid = signed(provider, seq)
        first = await send(client, valid)
        replayed = await send(client, valid)

    assert [r.status_code for r in rejected] == [401] * len(rejected), [r.text for r in rejected]
    assert first.status_code in (200, 202), first.text
    assert replayed.status_code == first.status_code, replayed.text
    records = await asyncio.wait_for(
        read_topic(kafka_topics, kafka_topics.topics.interactions, 1, extra_polls=2), 60
    )
    assert len(records) == 1, [header(r, "ce_id") for r in records]


def _slack_at(timestamp: int, seq: int) -> SampleRequest:
    """A Slack event signed correctly for ``timestamp`` (what a captured request replays)."""
    body = json.dumps(slack_payload(seq), ensure_ascii=False, separators=(",", ":")).encode()
    stamp = str(timestamp)
    return SampleRequest(
        "POST",
        webhook_path(Provider.SLACK, "it"),
        body,
        {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": slack_signature(SECRETS[Provider.SLACK], stamp, body),
        },
    )


@pytest.mark.parametrize("skew_s", [-301, -3600, 301, 86_400], ids=lambda s: f"{s:+d}s")
async def test_slack_replay_outside_the_timestamp_window_is_refused(kafka_topics, skew_s):
    # The app's clock is fixed: the window is measured from exactly this moment,
    # however long the app takes to start or the request to arrive.
    now = int(time.time())
    clock = lambda: datetime.fromtimestamp(now, UTC)  # noqa: E731
    async with running_app(kafka_topics, clock=clock, slack_tolerance_s=300) as client:
        stale = await send(client, _slack_at(now + skew_s, seq=1))
        fresh = await send(client, _slack_at(now, seq=2))
    assert stale.status_code == 401, stale.text
    assert fresh.status_code == 200, fresh.text
    records = await asyncio.wait_for(
        read_topic(kafka_topics, kafka_topics.topics.interactions, 1, extra_polls=2), 60
    )
    assert len(records) == 1

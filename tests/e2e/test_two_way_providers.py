"""Every chat provider with an outbound API, end to end on the real broker.

Per provider: a signed webhook (chat_ingest's own sample builder) → assigned →
acknowledgement → reply accepted with exactly one request → a provider outage
(5xx, then up) → the reply still sent once → a permanent refusal surfaced as a
failed reply → resolve → the survey asked. The summary line of each run is the
matrix in the issue's closing note.
"""

from __future__ import annotations

import json
import time

import pytest

from libs.common.webhooks.signatures import hmac_sha256_base64, hmac_sha256_hex
from libs.providers.integrations import Provider, webhook_path
from libs.providers.registry import spec
from services.chat_ingest.samples import (
    SampleRequest,
    line_payload,
    sample_request,
    whatsapp_payload,
)
from tests.e2e.two_way import TwoWaySystem, eventually, two_way_system

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

#: Kakao has its own flow in test_two_way_single_use.py: its callback answers once, so
#: no outage / permanent / survey steps follow a reply on the same callback.
PROVIDERS = [
    Provider.TELEGRAM,
    Provider.WHATSAPP,
    Provider.TWILIO,
    Provider.LINE,
    Provider.SLACK,
    Provider.CHANNELTALK,
]


#: Accepted by the provider, or further along (a status callback may come first).
ACCEPTED = ("accepted", "sent", "delivered", "read")


def integration_for(provider: Provider):
    def build(fakes, ingest_url: str):
        extra = {}
        if provider is Provider.TWILIO:
            extra["status_callback_url"] = f"{ingest_url}/webhooks/twilio/it"
        return [fakes.integration(provider, id="it", **extra)]

    return build


def inbound_request(system: TwoWaySystem, provider: Provider) -> SampleRequest:
    """chat_ingest's signed sample, made current where the provider checks time or tokens."""
    secret = system.fakes.integration(provider, id="it").secret_value()
    path = webhook_path(provider, "it")
    if provider is Provider.WHATSAPP:  # inside the 24-hour customer-service window
        payload = whatsapp_payload(2)
        message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        message["timestamp"] = str(int(time.time()))
        system.fakes.whatsapp.customer_wrote(message["from"])
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac_sha256_hex(secret, body)
        return SampleRequest(
            "POST",
            path,
            body,
            {"Content-Type": "application/json", "X-Hub-Signature-256": signature},
        )
    if provider is Provider.LINE:  # a reply token the LINE fixture issued (single use)
        payload = line_payload(2)
        payload["events"][0]["replyToken"] = system.fakes.line.issue_reply_token()
        payload["events"][0]["timestamp"] = int(time.time() * 1000)
        body = json.dumps(payload).encode()
        signature = hmac_sha256_base64(secret, body)
        return SampleRequest(
            "POST", path, body, {"Content-Type": "application/json", "X-Line-Signature": signature}
        )
    return sample_request(
        provider, integration_id="it", secret=secret, seq=2, base_url=system.ingest_url
    )


def fake_of(system: TwoWaySystem, provider: Provider):
    return getattr(system.fakes, provider.value)


async def count_at_least(system: TwoWaySystem, provider: Provider, n: int) -> list:
    fake = fake_of(system, provider)

    async def enough() -> list | None:
        return fake.accepted if len(fake.accepted) >= n else None

    return await eventually(enough, f"{n} requests on the {provider.value} fixture")


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.value)
async def test_answered_on_its_own_channel(provider, kafka_topics, tmp_path, smtp_inbox):
    _, smtp_port = smtp_inbox
    async with two_way_system(
        kafka_topics, tmp_path, smtp_port, integration_for(provider)
    ) as system:
        if provider is Provider.TWILIO:  # statuses come back to chat_ingest's StatusCallback
            fake_of(system, provider).report_statuses = ("sent", "delivered")
        fake = fake_of(system, provider)
        request = inbound_request(system, provider)
        answer = await system.ingest.request(
            request.method, request.path, content=request.content, headers=request.headers
        )
        assert answer.status_code < 300, answer.text
        conversation = await system.conversation_for(provider.value)
        row = {"provider": provider.value}

        await count_at_least(system, provider, 1)
        row["ack sent"] = True

        queued = await system.reply(conversation["id"], "We have checked it: all done.")
        reply = await system.reply_state(conversation["id"], queued["reply_id"], *ACCEPTED)
        assert len(fake.accepted) == 2 and reply["provider_message_id"]
        detail = await system.detail(conversation["id"])
        assert detail["first_response_at"] == reply["accepted_at"]
        row["reply sent"] = True
        if provider is Provider.TWILIO:
            delivered = await system.reply_state(
                conversation["id"], queued["reply_id"], "delivered"
            )
            assert delivered["delivered_at"] and delivered["accepted_at"] == reply["accepted_at"]
            assert (await system.detail(conversation["id"]))["first_response_at"] == (
                reply["accepted_at"]
            )
            fake.report_statuses = ()

        fake.fail_next(1, "unavailable")
        during = await system.reply(conversation["id"], "A second answer during an outage.")
        after = await system.reply_state(conversation["id"], during["reply_id"], *ACCEPTED)
        assert after["attempts"] >= 1 and len(fake.accepted) == 3  # sent once, after the 5xx
        row["outage waited out"] = True

        fake.fail_next(1, "permanent")
        refused = await system.reply(conversation["id"], "A third answer the provider refuses.")
        failed = await system.reply_state(conversation["id"], refused["reply_id"], "failed")
        assert failed["error_code"] and failed["failed_at"]
        row["permanent error surfaced"] = True

        resolved = await system.api.post(
            f"/conversations/{conversation['id']}/resolve", headers=system.admin
        )
        assert resolved.status_code == 200
        await count_at_least(system, provider, 4)
        row["CSAT asked"] = True
        row["status tracked"] = spec(provider).capabilities.reports_delivery_status
        # LINE: the router drops a reply token once a delivered message used it, but a reply
        # queued before the ack's outcome arrived still carries it: one 400, then push.
        expected = (
            ("injected", "invalid reply token") if provider is Provider.LINE else ("injected",)
        )
        unexpected = [r for r in fake.refused if not r.reason.startswith(expected)]
        assert unexpected == [], [(r.reason, r.body) for r in unexpected]
        print("TWO-WAY MATRIX", json.dumps(row))

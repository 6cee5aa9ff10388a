"""Outgoing webhooks against a real HTTP server on loopback that checks signatures."""

from __future__ import annotations

import json

import pytest

from libs.common.kafka.consumer import PermanentError
from services.notifier.bootstrap import build_handler, open_adapters
from services.notifier.samples import sample_events
from services.notifier.sentlog import SendKey, Status

from .conftest import notifier_settings

pytestmark = pytest.mark.integration

ESCALATED = "support.conversation.escalated"


@pytest.fixture
def targets(http_receiver):
    http_receiver.secrets["audit"] = "whsec-audit"
    return [
        {"name": "ops", "kind": "slack", "url": http_receiver.url("ops")},
        {
            "name": "audit",
            "kind": "signed_json",
            "url": http_receiver.url("audit"),
            "secret": "whsec-audit",
            "event_types": [ESCALATED, "support.conversation.assigned"],
        },
    ]


@pytest.fixture
async def notifier(kafka_topics, tmp_path, smtp_server, targets):
    settings = notifier_settings(
        kafka_topics, tmp_path, smtp_port=smtp_server.port, webhook_targets=targets
    )
    async with open_adapters(settings) as adapters:
        yield build_handler(settings, adapters), adapters


async def test_escalation_reaches_slack_and_the_signed_endpoint(
    notifier, http_receiver, smtp_server
):
    handler, _ = notifier
    await handler.handle("ev-esc-1", sample_events()[ESCALATED])

    [slack] = http_receiver.to("ops")
    assert slack.signature_ok is None
    text = json.loads(slack.body)["text"]
    assert text.startswith("[#C-1234] support.conversation.escalated")
    [signed] = http_receiver.to("audit")
    assert signed.signature_ok is True
    document = json.loads(signed.body)
    assert signed.headers["x-omnidesk-delivery"] == document["delivery_id"]
    assert signed.headers["x-omnidesk-timestamp"] == str(document["timestamp"])
    assert document["event_id"] == "ev-esc-1"
    assert document["data"]["to_priority"] == "urgent"
    assert len(smtp_server.to("sam@desk.example")) == 1  # and the supervisor's mail


async def test_transient_http_error_is_retried_then_delivered_once(notifier, http_receiver):
    handler, adapters = notifier
    http_receiver.statuses["audit"] = [503, 200]
    event = sample_events()["support.conversation.assigned"]
    await handler.handle("ev-hook-retry", event)
    await handler.handle("ev-hook-retry", event)  # redelivered: nothing posted again

    calls = http_receiver.to("audit")
    assert len(calls) == 2
    assert calls[0].headers["x-omnidesk-delivery"] == calls[1].headers["x-omnidesk-delivery"]
    record = await adapters.sentlog.get(SendKey("ev-hook-retry", "audit", "webhook.signed_json"))
    assert record.status is Status.SENT and record.attempts == 2


async def test_http_4xx_is_permanent(notifier, http_receiver):
    handler, adapters = notifier
    http_receiver.statuses["audit"] = [410]
    with pytest.raises(PermanentError, match="HTTP 410"):
        await handler.handle("ev-hook-gone", sample_events()["support.conversation.assigned"])
    assert len(http_receiver.to("audit")) == 1
    record = await adapters.sentlog.get(SendKey("ev-hook-gone", "audit", "webhook.signed_json"))
    assert record.status is Status.FAILED
    # The agent's mail of the same event was still sent.
    sent = await adapters.sentlog.get(
        SendKey("ev-hook-gone", "seoyeon@desk.example", "agent_assigned")
    )
    assert sent.status is Status.SENT

"""BROKER OUTAGE: stops and restarts the session's shared local Kafka broker.

While the broker is down every webhook answers 503 with Retry-After; once it is
back requests are accepted again; and every request that ever got a 2xx is on
the topic. The broker is restarted in ``finally`` whatever happens.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from libs.providers.integrations import Provider
from tests.helpers.chat_ingest import send
from tests.helpers.kafka import header, read_topic
from tests.integration.chat_ingest.helpers import running_app, signed
from tools.testing.kafka import BrokerUnderTest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Bounded retries after the restart, like a provider's retry schedule (not a timing check).
MAX_RETRIES = 60


async def _send_until_acked(
    client: httpx.AsyncClient, provider: Provider, seq: int
) -> httpx.Response:
    for _ in range(MAX_RETRIES):
        response = await send(client, signed(provider, seq))
        if response.status_code != 503:
            return response
        await asyncio.sleep(1)
    raise AssertionError(f"{provider} seq {seq} still 503 after {MAX_RETRIES} retries")


async def test_broker_outage_gives_503_then_recovers_without_loss(
    kafka_broker: BrokerUnderTest, kafka_topics
):
    assert kafka_broker.controllable, "this test stops the broker it started"
    broker = kafka_broker.local
    assert broker is not None
    kafka = kafka_topics.model_copy(update={"send_timeout_s": 1.5})
    acked: set[str] = set()
    provider = Provider.WEBCHAT  # answers with its event ids
    async with running_app(kafka, ack_deadline_s=1.5, retry_after_s=2) as client:
        before = [await send(client, signed(provider, seq)) for seq in range(5)]
        assert [r.status_code for r in before] == [202] * 5
        acked.update(r.json()["event_ids"][0] for r in before)
        try:
            await asyncio.to_thread(broker.stop)
            during = [await send(client, signed(provider, seq)) for seq in range(5, 10)]
            assert [r.status_code for r in during] == [503] * 5
            assert all(r.headers["Retry-After"] == "2" for r in during)
            assert all(r.json()["error"] == "bus_unavailable" for r in during)
        finally:
            await asyncio.to_thread(broker.start)
        # The provider retries what got 503, and new messages arrive.
        after = [await _send_until_acked(client, provider, seq) for seq in range(5, 15)]
        assert [r.status_code for r in after] == [202] * 10
        acked.update(r.json()["event_ids"][0] for r in after)

    records = await asyncio.wait_for(read_topic(kafka, kafka.topics.interactions, len(acked)), 120)
    on_topic = {header(record, "ce_id") for record in records}
    assert acked <= on_topic, f"acked but missing: {acked - on_topic}"


async def test_starts_without_kafka_and_answers_503_until_connected(kafka_topics):
    """No broker at start-up (port 1 refuses): the app still starts, webhooks get
    503 with Retry-After and /readyz reports Kafka failing."""
    nowhere = kafka_topics.model_copy(update={"bootstrap_servers": "127.0.0.1:1"})
    async with running_app(nowhere, retry_after_s=3) as client:
        response = await send(client, signed(Provider.LINE, 1))
        ready = await client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
    assert ready.status_code == 503
    assert ready.json()["checks"]["kafka"].startswith("failing")

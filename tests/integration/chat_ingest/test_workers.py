"""`python -m services.chat_ingest` with CHAT_INGEST_WORKERS=2: two server processes
share the port, each with its own Kafka producer; every request is answered only
after the broker acked, whichever worker took it."""

from __future__ import annotations

import asyncio
import re
import signal

import httpx
import pytest

from libs.common.cloudevents import decode
from libs.providers.integrations import DEV_SECRET, Provider
from services.chat_ingest.samples import sample_request
from tests.helpers.kafka import read_topic
from tests.helpers.processes import running_module, service_env, wait_log_count
from tools.testing.system import free_port

pytestmark = pytest.mark.integration

WORKERS = 2
REQUESTS = 40
CONNECTED = "connected to Kafka; accepting webhooks"


async def test_two_workers_serve_one_port_and_publish_every_request(kafka_topics, tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = service_env(
        "CHAT_INGEST_",
        kafka_topics,
        CHAT_INGEST_HTTP_PORT=str(port),
        CHAT_INGEST_WORKERS=str(WORKERS),
        CHAT_INGEST_LOG_FORMAT="text",
        CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY="true",
    )
    log_path = tmp_path / "chat_ingest.log"
    async with running_module("services.chat_ingest", env, log_path) as proc:
        await wait_log_count(log_path, proc, CONNECTED, WORKERS)
        requests = [
            sample_request(
                Provider.WEBCHAT, integration_id="dev", secret=DEV_SECRET, seq=n, base_url=""
            )
            for n in range(REQUESTS)
        ]

        async def post(request) -> httpx.Response:  # type: ignore[no-untyped-def]
            # A fresh connection each: the kernel spreads them over the workers.
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
                return await client.post(
                    request.path, content=request.content, headers=request.headers
                )

        responses = await asyncio.gather(*(post(r) for r in requests))
    exit_code = proc.returncode
    assert [r.status_code for r in responses] == [202] * REQUESTS, responses[0].text
    assert exit_code in (0, -signal.SIGTERM)
    log_text = await asyncio.to_thread(log_path.read_text)
    workers = set(re.findall(r"Started server process \[(\d+)\]", log_text))
    assert len(workers) == WORKERS, log_text
    assert str(proc.pid) not in workers  # the parent only supervises
    assert log_text.count("Application shutdown complete") == WORKERS
    acked = {r.json()["event_ids"][0] for r in responses}
    records = await asyncio.wait_for(
        read_topic(kafka_topics, kafka_topics.topics.interactions, REQUESTS), 60
    )
    assert {decode(r.headers, r.value).id for r in records} == acked
    assert len(records) == REQUESTS

"""`python -m services.chat_ingest` as `omnidesk dev up` runs it: uvicorn on the
configured port, development integrations when none are configured."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from libs.common.cloudevents import decode
from libs.providers.integrations import DEV_SECRET, Provider
from services.chat_ingest.samples import sample_request
from tests.helpers.kafka import read_topic
from tests.helpers.processes import running_module, service_env
from tools.testing.ready import wait_ready
from tools.testing.system import free_port

pytestmark = pytest.mark.integration


async def test_module_serves_dev_integrations_and_stops_on_sigterm(kafka_topics, tmp_path):
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = service_env(
        "CHAT_INGEST_",
        kafka_topics,
        CHAT_INGEST_HTTP_PORT=str(port),
        CHAT_INGEST_HTTP_HOST="127.0.0.1",
        CHAT_INGEST_LOG_FORMAT="json",
        CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY="true",  # what `omnidesk dev up` sets
    )
    log_path = tmp_path / "chat_ingest.log"
    async with running_module("services.chat_ingest", env, log_path, stop_within_s=30) as proc:
        await wait_ready(base_url, process=proc, name="chat_ingest")
        request = sample_request(
            Provider.TELEGRAM,
            integration_id="dev",
            secret=DEV_SECRET,
            seq=1,
            base_url=base_url,
        )
        async with httpx.AsyncClient(base_url=base_url) as client:
            response = await client.post(
                request.path, content=request.content, headers=request.headers
            )
        assert response.status_code == 200, response.text
    exit_code = proc.returncode
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert exit_code in (0, -signal.SIGTERM)
    log_text = log_path.read_text()
    assert "DEVELOPMENT integrations" in log_text
    assert "Application shutdown complete" in log_text
    [record] = await asyncio.wait_for(
        read_topic(kafka_topics, kafka_topics.topics.interactions, 1), 60
    )
    event = decode(record.headers, record.value)
    assert event.id == response.json()["event_ids"][0]
    assert event.data.integration == "dev"

"""`python -m services.chat_ingest` as `omnidesk dev up` runs it: uvicorn on the
configured port, development integrations when none are configured."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import httpx
import pytest

from libs.common.cloudevents import decode
from libs.providers.integrations import DEV_SECRET, Provider
from services.chat_ingest.samples import sample_request
from tests.helpers.kafka import read_topic
from tools.testing.ready import wait_ready

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_module_serves_dev_integrations_and_stops_on_sigterm(kafka_topics, tmp_path):
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHAT_INGEST_")}
    env.update(
        CHAT_INGEST_HTTP_PORT=str(port),
        CHAT_INGEST_HTTP_HOST="127.0.0.1",
        CHAT_INGEST_LOG_FORMAT="json",
        CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY="true",  # what `omnidesk dev up` sets
        KAFKA_BOOTSTRAP_SERVERS=kafka_topics.bootstrap_servers,
        KAFKA_TOPIC_INTERACTIONS=kafka_topics.topics.interactions,
    )
    log_path = tmp_path / "chat_ingest.log"
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.chat_ingest", env=env, stderr=log_file
        )
        try:
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
        finally:
            proc.send_signal(signal.SIGTERM)
            exit_code = await asyncio.wait_for(proc.wait(), 30)
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

"""`python -m services.phone_log` as `omnidesk dev up` runs it: a real uvicorn process on
loopback, dev sample integrations (said in its log), events on the real broker."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from libs.common.cloudevents import decode
from tests.helpers.kafka import read_topic
from tests.helpers.processes import running_module, service_env
from tools.testing.ready import wait_ready
from tools.testing.system import free_port

pytestmark = pytest.mark.integration


async def test_module_serves_dev_samples_and_publishes(kafka_topics, tmp_path):
    port = free_port()
    log_path = tmp_path / "phone_log.log"
    env = service_env(
        "PHONE_LOG_",
        kafka_topics,
        PHONE_LOG_HTTP_PORT=str(port),
        PHONE_LOG_DEV_SAMPLES="true",  # what `omnidesk dev up` sets
        LOG_FORMAT="text",
    )
    base_url = f"http://127.0.0.1:{port}"
    async with running_module("services.phone_log", env, log_path, stop_within_s=30) as process:
        await wait_ready(base_url, process=process, name="phone_log", timeout_s=30)
        # Generous bound: the first send fetches the topic's metadata on a busy broker.
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            response = await client.post(
                "/cti/dev-cti/dev-cti-token",
                data={
                    "event": "hangup",
                    "callId": "proc-1",
                    "from": "01012345678",
                    "to": "0212345678",
                    "direction": "in",
                    "cause": "cancel",
                },
            )
    assert response.status_code == 200, response.text
    log = log_path.read_text()
    assert "sample dev integrations" in log
    assert "Application shutdown complete" in log  # SIGTERM stops it cleanly
    [record] = await asyncio.wait_for(
        read_topic(kafka_topics, kafka_topics.topics.interactions, 1), 60
    )
    event = decode(record.headers, record.value)
    assert event.data.kind == "call_missed" and event.data.call.callback_requested
    assert event.data.integration == "dev-cti"
    assert record.key == b"+821012345678"

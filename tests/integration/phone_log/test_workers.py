"""`python -m services.phone_log` with PHONE_LOG_WORKERS=2: two server processes on one
port, each with its own Kafka producer; every call event acked is on the topic once."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from libs.common.cloudevents import decode
from tests.helpers.kafka import read_topic
from tests.helpers.processes import running_module, service_env, wait_log_count
from tools.testing.system import free_port

pytestmark = pytest.mark.integration

WORKERS = 2
CALLS = 30
STARTED = "Kafka producer started"


def _hangup(n: int) -> dict[str, str]:
    return {
        "event": "hangup",
        "callId": f"workers-{n}",
        "from": f"0105555{n:04d}",
        "to": "0212345678",
        "direction": "in",
        "cause": "cancel",
    }


async def test_two_workers_share_the_port_and_publish_every_call(kafka_topics, tmp_path):
    port = free_port()
    log_path = tmp_path / "phone_log.log"
    env = service_env(
        "PHONE_LOG_",
        kafka_topics,
        PHONE_LOG_HTTP_PORT=str(port),
        PHONE_LOG_WORKERS=str(WORKERS),
        PHONE_LOG_DEV_SAMPLES="true",
        LOG_FORMAT="text",
    )
    base_url = f"http://127.0.0.1:{port}"
    async with running_module("services.phone_log", env, log_path) as process:
        await wait_log_count(log_path, process, STARTED, WORKERS)

        async def post(n: int) -> httpx.Response:
            # A fresh connection each: the kernel spreads them over the workers.
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
                return await client.post("/cti/dev-cti/dev-cti-token", data=_hangup(n))

        responses = await asyncio.gather(*(post(n) for n in range(CALLS)))
    assert [r.status_code for r in responses] == [200] * CALLS, responses[0].text
    log = await asyncio.to_thread(log_path.read_text)
    assert "(2 worker processes)" in log
    assert len(set(re.findall(r"Started server process \[(\d+)\]", log))) == WORKERS
    assert log.count("Application shutdown complete") == WORKERS
    records = await asyncio.wait_for(
        read_topic(kafka_topics, kafka_topics.topics.interactions, CALLS), 60
    )
    assert sorted(decode(r.headers, r.value).id for r in records) == sorted(
        r.json()["event_id"] for r in responses
    )

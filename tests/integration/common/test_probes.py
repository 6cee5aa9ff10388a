from __future__ import annotations

import asyncio

import httpx
import pytest

from libs.common.kafka.admin import kafka_ready
from libs.common.probes import serve_probes
from libs.common.settings import KafkaSettings
from tools.testing.ready import wait_ready
from tools.testing.system import free_port

pytestmark = pytest.mark.integration


async def test_probe_server_reports_kafka_readiness(kafka_settings):
    settings: KafkaSettings = kafka_settings
    port, stop = free_port(), asyncio.Event()
    server = asyncio.create_task(
        serve_probes(
            lambda: {"kafka": lambda: kafka_ready(settings)}, host="127.0.0.1", port=port, stop=stop
        )
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            await wait_ready(base, path="/healthz", name="probes")
            not_ready = await client.get("/readyz")  # topics not created yet
            assert not_ready.status_code == 503
            assert not_ready.json()["checks"]["kafka"].startswith("failing")

            from libs.common.kafka.admin import create_topics

            await create_topics(settings)
            ready = await client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"] == {"kafka": "ok"}
            metrics = await client.get("/metrics")
            assert "omnidesk_events_published_total" in metrics.text
    finally:
        stop.set()
        await server

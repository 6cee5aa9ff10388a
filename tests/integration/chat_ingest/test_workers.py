"""`python -m services.chat_ingest` with CHAT_INGEST_WORKERS=2: two server processes
share the port, each with its own Kafka producer; every request is answered only
after the broker acked, whichever worker took it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from libs.common.cloudevents import decode
from libs.providers.integrations import DEV_SECRET, Provider
from services.chat_ingest.samples import sample_request
from tests.helpers.kafka import read_topic

pytestmark = pytest.mark.integration

WORKERS = 2
REQUESTS = 40
CONNECTED = "connected to Kafka; accepting webhooks"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _wait_all_connected(log_path: Path, proc: asyncio.subprocess.Process) -> None:
    """Every worker logs CONNECTED once its producer runs (bounded polling)."""
    text = ""
    for _ in range(240):
        assert proc.returncode is None, "service exited during start-up"
        text = await asyncio.to_thread(log_path.read_text)
        if text.count(CONNECTED) >= WORKERS:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"not all {WORKERS} workers connected:\n{text}")


async def test_two_workers_serve_one_port_and_publish_every_request(kafka_topics, tmp_path):
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHAT_INGEST_")}
    env.update(
        CHAT_INGEST_HTTP_PORT=str(port),
        CHAT_INGEST_WORKERS=str(WORKERS),
        CHAT_INGEST_LOG_FORMAT="text",
        CHAT_INGEST_DEV_INTEGRATIONS_WHEN_EMPTY="true",
        KAFKA_BOOTSTRAP_SERVERS=kafka_topics.bootstrap_servers,
        KAFKA_TOPIC_INTERACTIONS=kafka_topics.topics.interactions,
    )
    log_path = tmp_path / "chat_ingest.log"
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.chat_ingest", env=env, stderr=log_file
        )
        try:
            await _wait_all_connected(log_path, proc)
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
        finally:
            proc.send_signal(signal.SIGTERM)
            exit_code = await asyncio.wait_for(proc.wait(), 60)
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
